import { MongoError, MongoNetworkError } from 'mongodb';

/** Socket errors Node.js reports by code; the driver lets some of them through as they are (EPIPE mid-write). */
const SOCKET_ERRORS = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A relay thread's only connections are its MongoDB client's, so a socket error there is MongoDB's connection
 * failing: it reaches the relay as the driver's network error (MONGO_UNAVAILABLE, retried by the next invocation),
 * never as an unnamed failure.
 */
export function socketErrorAsMongo(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && !(error instanceof MongoError) && typeof code === 'string' && SOCKET_ERRORS.has(code)) {
    return new MongoNetworkError(`${error.message} (${code})`, { cause: error });
  }
  return error;
}
