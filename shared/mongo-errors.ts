import { MongoError, MongoErrorLabel, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { CdcError } from './errors';

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
 * The Node driver's GET_MORE_RESUMABLE_CODES (mongodb/lib/error.js). The driver's public API exposes the labels
 * (MongoErrorLabel, used above) but neither this list nor isResumableError, which also needs the server's wire
 * version; servers below wire version 9 mark resumable errors by code instead of by label, so the list is mirrored.
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
  // The server's label; the driver has no constant for it.
  if (error.hasErrorLabel('NonResumableChangeStreamError')) return { kind: 'fatal', ...known };
  if (error.hasErrorLabel(MongoErrorLabel.ResumableChangeStreamError)) return { kind: 'resumable', ...known };
  if (code !== undefined && RESUMABLE_CODES.has(code)) return { kind: 'resumable', ...known };
  return { kind: 'fatal', ...known };
}

/**
 * Every error the relay sees, named (PowerSync's mapChangeStreamError): a CdcError passes through; a MongoDB error
 * becomes CHANGE_STREAM_HISTORY_LOST (stall for an operator), MONGO_UNAVAILABLE (transient: the next invocation
 * resumes) or MONGO_FATAL (the driver cannot resume), with the driver's error as its cause. Anything else (a bug, a
 * TypeError) is returned as it is, so it is never mistaken for a MongoDB condition.
 */
export function mapChangeStreamError(error: unknown): CdcError | unknown {
  if (error instanceof CdcError) return error;
  const classified = classifyMongoError(error);
  if (classified.kind === 'not-mongo') return error;
  const named = classified.codeName ?? 'code';
  const what = `${named}${classified.code !== undefined ? ` ${classified.code}` : ''}: ${(error as Error).message}`;
  switch (classified.kind) {
    case 'history-lost':
      return new CdcError('CHANGE_STREAM_HISTORY_LOST', `resume point is no longer in the oplog (${what})`, { cause: error });
    case 'resumable':
      return new CdcError('MONGO_UNAVAILABLE', `MongoDB is unavailable for now (${what})`, { cause: error });
    case 'fatal':
      return new CdcError('MONGO_FATAL', `MongoDB error the change stream cannot resume from (${what})`, { cause: error });
  }
}
