import { MongoError, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError } from 'mongodb';

/**
 * Every failure the product names, once: what it means and how to recover. Codes are stable (alarms, metrics, dead
 * letters and runbooks use them); `retriable` says whether repeating the same work later can succeed without a person.
 */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    retriable: false,
    meaning: 'A setting is missing or malformed; the function refuses to start.',
    recovery: 'Fix the setting the message names and redeploy.',
  },
  KAFKA_PRODUCE_FAILED: {
    retriable: true,
    meaning: 'Kafka did not acknowledge a batch; the checkpoint was not moved.',
    recovery: 'None needed: the next invocation resends from the last checkpoint. Check broker health if it persists.',
  },
  LEASE_HELD: {
    retriable: true,
    meaning: 'Another live invocation holds the stream, so this one did nothing. Not a failure for the caller.',
    recovery: 'None: expected when invocations overlap; a later invocation takes the lease once it is free.',
  },
  LEASE_LOST: {
    // Not retriable: a retry loop must never repeat a fenced write; the invocation stops producing at once.
    retriable: false,
    meaning: "The stream's fencing epoch moved on (a conditional checkpoint write was rejected); this invocation stopped producing at once.",
    recovery: 'None: the new holder continues from the last saved checkpoint. Frequent occurrences mean the lease is shorter than a batch.',
  },
  CHECKPOINT_CONFLICT: {
    retriable: false,
    meaning: 'The checkpoint item changed in a way this invocation did not expect (not a lease change).',
    recovery: 'Inspect the control table item; reset the stream if it is corrupt.',
  },
  CHANGE_STREAM_HISTORY_LOST: {
    retriable: false,
    meaning:
      'The resume point is no longer in the oplog (ChangeStreamHistoryLost 286, InvalidResumeToken 260, or ChangeStreamFatalError 280 saying the resume token was not found). The stream is stalled; nothing is skipped silently.',
    recovery: 'Operator: reset the stream to now (the gap is recorded) or re-snapshot; enlarge the oplog window so it does not recur.',
  },
  SNAPSHOT_RUNNING: {
    retriable: true,
    meaning: 'A snapshot was asked for while another one is requested or running on the stream; the request was refused.',
    recovery: 'Wait for the running snapshot to finish (`mongo-cdc status` shows its progress), then ask again if still needed.',
  },
  CHANGE_STREAM_INVALIDATED: {
    retriable: false,
    meaning: 'The watched collection or database was dropped or renamed; the invalidate event was published.',
    recovery: 'Per configuration the stream stopped, or continued with startAfter; reset it to resume a stopped stream.',
  },
  RECORD_MALFORMED: {
    retriable: false,
    meaning: 'A Kafka record or a value in it does not follow the mongo-cdc record format (the message names the field).',
    recovery: 'The record went to the dead-letter topic with the reason; fix the producer, then re-drive it.',
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
  PERMISSION_DENIED: {
    retriable: false,
    meaning: 'AWS, Kafka or MongoDB refused an operation for lack of permission (the message names the action and resource).',
    recovery: 'Grant the named permission to the role or user running the command (see the deploy guide), then retry.',
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

export function isCdcError(error: unknown, code?: CdcErrorCode): error is CdcError {
  return error instanceof CdcError && (code === undefined || error.code === code);
}

export interface MongoErrorClassification {
  readonly kind: 'resumable' | 'history-lost' | 'fatal' | 'not-mongo';
  readonly code?: number;
  readonly codeName?: string;
}

const CHANGE_STREAM_HISTORY_LOST = 286;
const INVALID_RESUME_TOKEN = 260;
const CHANGE_STREAM_FATAL = 280;
const CURSOR_NOT_FOUND = 43;

/**
 * ChangeStreamFatalError (280) also reports pipeline mistakes whose messages mention the resume token ("_id field,
 * which contains the resume token, was modified"); only these wordings mean the resume point itself is gone.
 */
const RESUME_POINT_GONE = /resume token was not found|no longer (?:be )?in the oplog/i;

/**
 * The Node driver's GET_MORE_RESUMABLE_CODES (mongodb/lib/error.js), mirrored rather than imported because it is
 * internal: servers below wire version 9 mark resumable errors by code instead of by label.
 */
const RESUMABLE_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  63, // StaleShardVersion
  150, // StaleEpoch
  13388, // StaleConfig
  234, // RetryChangeStream
  133, // FailedToSatisfyReadPreference
  CURSOR_NOT_FOUND,
]);

/** A cursor read with promoteValues: false carries server error codes as Int32 objects, not numbers. */
function numericCode(code: unknown): number | undefined {
  const value = typeof code === 'object' && code !== null ? Number(code) : code;
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/**
 * What a MongoDB error means for a relay, decided in one place. `resumable`: transient, the kind the driver resumes
 * from itself (when one still reaches us, the next invocation resumes from the checkpoint); `history-lost`: the resume
 * point left the oplog, the stream must stall for an operator; `fatal`: anything else from MongoDB. The driver's own
 * test (isResumableError) depends on the server's wire version, which is not known here, so both the label and the
 * code list count.
 */
export function classifyMongoError(error: unknown): MongoErrorClassification {
  if (!(error instanceof MongoError)) return { kind: 'not-mongo' };
  const code = numericCode(error.code);
  const codeName = error instanceof MongoServerError && typeof error.codeName === 'string' ? error.codeName : undefined;
  const known = { ...(code !== undefined ? { code } : {}), ...(codeName !== undefined ? { codeName } : {}) };

  if (code === CHANGE_STREAM_HISTORY_LOST || code === INVALID_RESUME_TOKEN) return { kind: 'history-lost', ...known };
  if (code === CHANGE_STREAM_FATAL && RESUME_POINT_GONE.test(error.message)) return { kind: 'history-lost', ...known };
  if (
    error instanceof MongoNetworkError || // includes MongoNetworkTimeoutError
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError // the change stream resumes after a CSOT timeout too
  ) {
    return { kind: 'resumable', ...known };
  }
  if (error.hasErrorLabel('NonResumableChangeStreamError')) return { kind: 'fatal', ...known };
  if (error.hasErrorLabel('ResumableChangeStreamError')) return { kind: 'resumable', ...known };
  if (code !== undefined && RESUMABLE_CODES.has(code)) return { kind: 'resumable', ...known };
  return { kind: 'fatal', ...known };
}
