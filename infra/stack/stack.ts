import { dynamodbService } from './services/dynamodb';
import { kafkaService } from './services/kafka';
import type { LocalService, ServiceName } from './services/local-service';
import { mongodbService } from './services/mongodb';
import { opensearchService } from './services/opensearch';
import {
  forgetRunRecord,
  isAlive,
  logPath,
  portAnswers,
  readRunRecord,
  residentBytes,
  sleep,
  stopProcessGroup,
  waitUntilReady,
  writeRunRecord,
} from './process-control';
import { bindHost, startAllowanceMs } from './stack-settings';

export type Progress = (line: string) => void;

export function allServices(only?: readonly ServiceName[]): LocalService[] {
  const services = [kafkaService(), dynamodbService(), mongodbService(), opensearchService()];
  return only ? services.filter((service) => only.includes(service.name)) : services;
}

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly address: string;
  readonly managed: 'stack' | 'external' | 'not running';
  readonly pid?: number;
  readonly answering: boolean;
  readonly detail: string;
  readonly residentBytes?: number;
}

export interface StackUpOptions {
  /**
   * How long to wait for a user's own service (its variable set) that does not answer: `npm start` waits as long as it
   * takes (a service being restarted is no reason to give up), `stack:up` reports it at once. In milliseconds.
   */
  readonly waitForExternalMs?: number;
  /** Ends the wait early (Ctrl-C during start-up). */
  readonly signal?: AbortSignal;
}

/** Starts every service that is not already answering, in parallel, waits until each does, and reports their status. */
export async function stackUp(progress: Progress, only?: readonly ServiceName[], options: StackUpOptions = {}): Promise<ServiceStatus[]> {
  await ensureStack(progress, only, options);
  return stackStatus(only);
}

/** stackUp without the status report (a second round of probes), for `npm start`, which only needs the services up. */
export async function ensureStack(progress: Progress, only?: readonly ServiceName[], options: StackUpOptions = {}): Promise<void> {
  const started = Date.now();
  const results = await Promise.allSettled(allServices(only).map((service) => ensureRunning(service, progress, options)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason?.message ?? result.reason)] : []));
  if (failures.length > 0) throw new Error(`the local stack did not come up:\n- ${failures.join('\n- ')}`);
  progress(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * How long a service that runs and answered before may go without answering a probe before it is taken for wedged and
 * restarted: on a busy machine one probe can time out, and restarting a healthy in-memory DynamoDB or a broker for
 * that would throw away the user's data or stall every client.
 */
const UNANSWERED_BEFORE_RESTART_MS = 30_000;

async function ensureRunning(service: LocalService, progress: Progress, options: StackUpOptions): Promise<void> {
  if (service.isExternal) {
    const waitUntil = Date.now() + (options.waitForExternalMs ?? 0);
    let probe = await service.probe();
    let toldAt = 0;
    while (!probe.answering && Date.now() < waitUntil && !options.signal?.aborted) {
      if (Date.now() - toldAt >= 10_000) {
        progress(`${service.name}: ${service.externalVariable} points at ${service.address}, which does not answer (${probe.detail}); waiting for it`);
        toldAt = Date.now();
      }
      await sleep(1_000);
      probe = await service.probe();
    }
    if (!probe.answering) {
      throw new Error(`${service.name}: ${service.externalVariable} points at ${service.address}, which does not answer (${probe.detail})`);
    }
    progress(`${service.name}: using your own at ${service.address} (${probe.detail})`);
    return;
  }
  const record = readRunRecord(service.name);
  if (record && isAlive(record.pid)) {
    if ((await service.probe()).answering) {
      progress(`${service.name}: already running (pid ${record.pid})`);
      return;
    }
    const startedAt = Date.parse(record.startedAt);
    if (Date.now() - startedAt < startAllowanceMs(service.startTimeoutMs)) {
      progress(`${service.name}: pid ${record.pid} is still starting; waiting for it`);
      await waitUntilReady(service.name, record.pid, async () => (await service.probe()).answering, () => startAllowanceMs(service.startTimeoutMs), startedAt);
      return;
    }
    const answered = await waitUntilReady(service.name, record.pid, async () => (await service.probe()).answering, () => UNANSWERED_BEFORE_RESTART_MS).then(
      () => true,
      () => false,
    );
    if (answered) {
      progress(`${service.name}: already running (pid ${record.pid}), slow to answer`);
      return;
    }
    // Running long enough to have answered, yet silent for a while: wedged (for example out of memory). Replace it.
    progress(`${service.name}: pid ${record.pid} is running but has not answered for ${UNANSWERED_BEFORE_RESTART_MS / 1000} s; restarting it (see ${logPath(service.name)})`);
    await stopProcessGroup(record.pid, 10_000);
  }
  forgetRunRecord(service.name);
  if (await portAnswers(bindHost, service.port.port)) {
    throw new Error(
      `${service.name}: port ${service.port.port} on ${bindHost} is taken by another process; ` +
        `free it, choose another port with ${service.port.variable}=<port>, ` +
        `or point the project at that service with ${service.externalVariable}`,
    );
  }
  const began = Date.now();
  await service.prepare(progress);
  progress(`${service.name}: starting on ${bindHost}:${service.port.port}`);
  const { pid, description } = await service.spawn(progress);
  writeRunRecord(service.name, { pid, description, port: service.port.port, startedAt: new Date().toISOString() });
  try {
    await waitUntilReady(service.name, pid, async () => (await service.probe()).answering, () => startAllowanceMs(service.startTimeoutMs));
    await service.afterReady?.();
  } catch (error) {
    await stopProcessGroup(pid, 5_000);
    forgetRunRecord(service.name);
    throw error;
  }
  progress(`${service.name}: answering after ${((Date.now() - began) / 1000).toFixed(1)} s (${description}); log ${logPath(service.name)}`);
}

export async function stackStatus(only?: readonly ServiceName[]): Promise<ServiceStatus[]> {
  return Promise.all(
    allServices(only).map(async (service): Promise<ServiceStatus> => {
      const probe = await service.probe();
      if (service.isExternal) {
        return { name: service.name, address: service.address, managed: 'external', answering: probe.answering, detail: probe.detail };
      }
      const record = readRunRecord(service.name);
      const running = record !== undefined && isAlive(record.pid);
      return {
        name: service.name,
        address: service.address,
        managed: running ? 'stack' : 'not running',
        ...(running ? { pid: record.pid, residentBytes: residentBytes(record.pid) } : {}),
        answering: probe.answering,
        detail: running ? `${record.description}; ${probe.detail}` : probe.detail,
      };
    }),
  );
}

/** Stops what the stack started (never a user's own services); harmless when nothing runs. */
export async function stackDown(progress: Progress, only?: readonly ServiceName[]): Promise<void> {
  await Promise.all(
    allServices(only).map(async (service) => {
      const record = readRunRecord(service.name);
      if (!record) return;
      if (isAlive(record.pid)) {
        progress(`${service.name}: stopping pid ${record.pid}`);
        await stopProcessGroup(record.pid);
        progress(`${service.name}: stopped`);
      }
      forgetRunRecord(service.name);
    }),
  );
}

export async function stackIsAnswering(): Promise<boolean> {
  const statuses = await stackStatus();
  return statuses.every((status) => status.answering);
}
