import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';

/** Defined by the local runtime's bundle (infra/local/runtime-bundle.cjs), which lives elsewhere than this file. */
declare const MONGO_CDC_PROJECT_ROOT: string | undefined;

/** Root of the project checkout; the stack keeps everything it writes under one ignored folder there. */
export const projectRoot = typeof MONGO_CDC_PROJECT_ROOT === 'string' ? MONGO_CDC_PROJECT_ROOT : resolve(__dirname, '..', '..');
export const stateDir = process.env.STACK_STATE_DIR ? resolve(process.env.STACK_STATE_DIR) : resolve(projectRoot, '.stack');
export const logsDir = resolve(stateDir, 'logs');
/** Downloaded jars and zips; STACK_ARTIFACTS_DIR lets a second state folder reuse them (they never change in place). */
export const artifactsDir = process.env.STACK_ARTIFACTS_DIR ? resolve(process.env.STACK_ARTIFACTS_DIR) : resolve(stateDir, 'artifacts');

/** Every local service listens here and nowhere else. */
export const bindHost = '127.0.0.1';

export interface PortSetting {
  readonly variable: string;
  readonly port: number;
}

/** Reads a port override, failing with a message that names the variable when it is not a usable port. */
export function portFromEnv(variable: string, fallback: number): PortSetting {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return { variable, port: fallback };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${variable}=${JSON.stringify(raw)} is not a TCP port (expected an integer from 1 to 65535)`);
  }
  return { variable, port };
}

export const ports = {
  kafka: () => portFromEnv('KAFKA_PORT', 9092),
  kafkaController: () => portFromEnv('KAFKA_CONTROLLER_PORT', 9093),
  dynamodb: () => portFromEnv('DYNAMODB_PORT', 8000),
  mongodb: () => portFromEnv('MONGODB_PORT', 27017),
  opensearch: () => portFromEnv('OPENSEARCH_PORT', 9200),
  opensearchTransport: () => portFromEnv('OPENSEARCH_TRANSPORT_PORT', 9300),
};

/** Java heap sizes, chosen so the whole stack stays near 2.5 GiB resident on a 2-core machine. */
export const javaHeap = {
  kafka: process.env.STACK_KAFKA_HEAP ?? '512m',
  dynamodb: process.env.STACK_DYNAMODB_HEAP ?? '256m',
  mongodb: process.env.STACK_MONGODB_HEAP ?? '768m',
  opensearch: process.env.STACK_OPENSEARCH_HEAP ?? '512m',
};

/**
 * How many change entries the MongoDB stand-in's oplog keeps before the oldest fall off (a resume from before them then
 * fails with ChangeStreamHistoryLost, as on MongoDB). 200,000 one-KiB events fit the default 768 MiB heap beside the data.
 */
export function standInOplogEntries(): number {
  const raw = process.env.STACK_MONGODB_OPLOG_ENTRIES;
  if (raw === undefined || raw === '') return 200_000;
  const entries = Number(raw);
  if (!Number.isInteger(entries) || entries < 1) {
    throw new Error(`STACK_MONGODB_OPLOG_ENTRIES=${JSON.stringify(raw)} is not a positive integer (entries the stand-in's oplog keeps)`);
  }
  return entries;
}

/** The longest any service may take to answer, however busy the machine: past it the process is taken as wedged. */
const START_ALLOWANCE_CAP_MS = 15 * 60_000;

/**
 * How long a service may take to answer after it was spawned. The base is what a quiet 2-core machine needs, with
 * margin; on a busy machine (CI beside other jobs) a JVM starts slower in proportion to the run queue, so the allowance
 * grows with the 1-minute load average per core, up to a cap. STACK_START_TIMEOUT_SECONDS sets it outright.
 */
export function startAllowanceMs(baseMs: number, load = loadavg()[0] ?? 0, cores = availableParallelism()): number {
  const raw = process.env.STACK_START_TIMEOUT_SECONDS;
  if (raw !== undefined && raw !== '') {
    const seconds = Number(raw);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new Error(`STACK_START_TIMEOUT_SECONDS=${JSON.stringify(raw)} is not a positive number of seconds`);
    }
    return seconds * 1000;
  }
  const busyFactor = Math.max(1, load / Math.max(1, cores));
  return Math.min(START_ALLOWANCE_CAP_MS, Math.round(baseMs * busyFactor));
}
