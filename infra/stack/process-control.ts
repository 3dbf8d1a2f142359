import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { logsDir, stateDir } from './stack-settings';

/** What the stack remembers about a process it started, so that status and down can find it again. */
export interface RunRecord {
  readonly pid: number;
  readonly startedAt: string;
  /** Free text shown by status, e.g. which MongoDB kind runs. */
  readonly description: string;
  readonly port: number;
}

const recordPath = (service: string) => resolve(stateDir, 'run', `${service}.json`);
export const logPath = (service: string) => resolve(logsDir, `${service}.log`);

export function readRunRecord(service: string): RunRecord | undefined {
  const path = recordPath(service);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

export function writeRunRecord(service: string, record: RunRecord): void {
  mkdirSync(resolve(stateDir, 'run'), { recursive: true });
  writeFileSync(recordPath(service), `${JSON.stringify(record, null, 2)}\n`);
}

export function forgetRunRecord(service: string): void {
  rmSync(recordPath(service), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Starts a long-running process in its own process group, detached from this one, logging to the service's log. */
export function spawnDetached(
  service: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): number {
  mkdirSync(logsDir, { recursive: true });
  const out = openSync(logPath(service), 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${service}: ${command} did not spawn`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** True when something accepts TCP connections on host:port. */
export function portAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolvePromise(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));

/**
 * Polls a readiness probe until it passes, the process dies, or it stops making progress. The timeout counts from the
 * last time the service's log grew: a service that keeps writing its start-up log is still starting (on a busy machine
 * a broker can take minutes), one that went quiet for `timeoutMs` is stuck. Four times `timeoutMs` is the hard limit.
 * Errors name the service and point at its log, since that is where the reason will be.
 */
export async function waitUntilReady(
  service: string,
  pid: number,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const log = logPath(service);
  const logSize = () => {
    try {
      return statSync(log).size;
    } catch {
      return 0;
    }
  };
  const began = Date.now();
  let lastSize = logSize();
  let progressAt = began;
  while (Date.now() - progressAt < timeoutMs && Date.now() - began < 4 * timeoutMs) {
    if (!isAlive(pid)) throw new Error(`${service} exited during start-up; see ${log}`);
    if (await probe().catch(() => false)) return;
    const size = logSize();
    if (size !== lastSize) {
      lastSize = size;
      progressAt = Date.now();
    }
    await sleep(500);
  }
  throw new Error(`${service} did not answer within ${Math.round((Date.now() - began) / 1000)} s (its log quiet for ${Math.round((Date.now() - progressAt) / 1000)} s); see ${log}`);
}

/** Stops a process group politely, then firmly; returns once nothing of it is left. */
export async function stopProcessGroup(pid: number, graceMs = 30_000): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) {
    signalGroup('SIGKILL');
    while (isAlive(pid)) await sleep(100);
  }
}

/** Resident memory of a process and its descendants, in bytes (Linux /proc; 0 elsewhere). */
export function residentBytes(pid: number): number {
  const pids = [pid, ...descendants(pid)];
  let total = 0;
  for (const each of pids) {
    try {
      const status = readFileSync(`/proc/${each}/status`, 'utf8');
      const match = /VmRSS:\s+(\d+) kB/.exec(status);
      if (match?.[1]) total += Number(match[1]) * 1024;
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

function descendants(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (children === '') return [];
    return children
      .split(/\s+/)
      .map(Number)
      .flatMap((child) => [child, ...descendants(child)]);
  } catch {
    return [];
  }
}
