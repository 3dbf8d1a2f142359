import { MongoError, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError } from 'mongodb';

/** Every failure the product names, what it means, and how to recover. Codes are stable: alarms and runbooks use them. */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    retriable: false,
    meaning: 'A setting is missing or malformed; the function refuses to start.',
    recovery: 'Fix the variable the message names and redeploy.',
  },
  KAFKA_PRODUCE_FAILED: {
    retriable: true,
    meaning: 'Kafka did not acknowledge a batch; the checkpoint was not moved.',
    recovery: 'None needed: the next invocation resends from the last checkpoint. Check broker health if it persists.',
  },
  LEASE_HELD: {
    retriable: true,
    meaning: 'Another live invocation holds the stream; this one did nothing.',
    recovery: 'None: expected when invocations overlap.',
  },
  LEASE_LOST: {
    retriable: true,
    meaning: "The stream's lease moved to another invocation (fencing epoch changed); this one stopped producing at once.",
    recovery: 'None: the new holder continues from the last checkpoint.',
  },
  CHECKPOINT_CONFLICT: {
    retriable: false,
    meaning: 'The checkpoint item changed in a way this invocation did not expect.',
    recovery: 'Inspect the control table item; reset the stream if it is corrupt.',
  },
  CHANGE_STREAM_HISTORY_LOST: {
    retriable: false,
    meaning: 'The resume point is no longer in the oplog (ChangeStreamHistoryLost 286, InvalidResumeToken 260, or ChangeStreamFatalError 280 about a lost resume point). The stream is stalled; nothing is skipped silently.',
    recovery: 'Operator: reset the stream to now (the gap is recorded) or re-snapshot; grow the oplog window to prevent it.',
  },
  CHANGE_STREAM_INVALIDATED: {
    retriable: false,
    meaning: 'The watched collection or database was dropped or renamed; the invalidate event was published.',
    recovery: 'Per configuration the stream stopped, or continued with startAfter; reset it to resume a stopped stream.',
  },
  RECORD_MALFORMED: {
    retriable: false,
    meaning: 'A Kafka record does not follow the mongo-cdc record format.',
    recovery: 'It went to the dead-letter topic with the reason; fix the producer, then re-drive it.',
  },
  RECORD_TOO_LARGE: {
    retriable: false,
    meaning: 'An event or item exceeds what the destination accepts.',
    recovery: 'Dead-lettered with its metadata (or trimmed, per policy); raise the limit or re-drive it.',
  },
  STORE_UNAVAILABLE: {
    retriable: true,
    meaning: 'A reporting store did not accept writes; the batch failed so the event source redelivers it.',
    recovery: 'None needed once the store is back; check throttling and capacity if it persists.',
  },
  MONGO_FATAL: {
    retriable: false,
    meaning: 'MongoDB returned an error the driver cannot resume from.',
    recovery: 'Read the error; check permissions, the pipeline and the deployment.',
  },
} as const satisfies Record<string, { retriable: boolean; meaning: string; recovery: string }>;

export type CdcErrorCode = keyof typeof ERROR_CATALOGUE;

export class CdcError extends Error {
  readonly code: CdcErrorCode;
  readonly retriable: boolean;

  constructor(code: CdcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CdcError';
    this.code = code;
    this.retriable = ERROR_CATALOGUE[code].retriable;
  }
}

export interface MongoErrorClass {
  readonly kind: 'resumable' | 'history-lost' | 'fatal' | 'not-mongo';
  readonly code?: number;
  readonly codeName?: string;
}

const CHANGE_STREAM_HISTORY_LOST = 286;
const INVALID_RESUME_TOKEN = 260;
const CHANGE_STREAM_FATAL = 280;

/**
 * The server codes the Node driver treats as resumable for change streams (its GET_MORE_RESUMABLE_CODES), for
 * servers that do not label their errors.
 */
const RESUMABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133, 43]);

/** One place that decides what a MongoDB error means for a relay: leave it to the driver, stall, or fail. */
export function classifyMongoError(error: unknown): MongoErrorClass {
  if (!(error instanceof MongoError)) return { kind: 'not-mongo' };
  const code = typeof error.code === 'number' ? error.code : undefined;
  const codeName = error instanceof MongoServerError ? error.codeName : undefined;
  const details = { ...(code !== undefined ? { code } : {}), ...(codeName ? { codeName } : {}) };
  if (code === CHANGE_STREAM_HISTORY_LOST || code === INVALID_RESUME_TOKEN) return { kind: 'history-lost', ...details };
  if (code === CHANGE_STREAM_FATAL && /resume|oplog|history/i.test(error.message)) return { kind: 'history-lost', ...details };
  if (error instanceof MongoNetworkError || error instanceof MongoNetworkTimeoutError) return { kind: 'resumable', ...details };
  if (error.hasErrorLabel('ResumableChangeStreamError')) return { kind: 'resumable', ...details };
  if (code !== undefined && RESUMABLE_CODES.has(code)) return { kind: 'resumable', ...details };
  return { kind: 'fatal', ...details };
}
