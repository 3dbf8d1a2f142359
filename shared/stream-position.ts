import { BSON, type ChangeStreamDocument, type ResumeToken, type Timestamp } from 'mongodb';
import { CdcError } from './errors';
import { bsonTypeOf } from './bson-value';

/*
 * The stream position, the one home of it: where an event stands in the oplog (its version, for sinks), where a
 * stream resumes (the checkpoint), and how both are written down. `positionKey` is the one comparable string
 * ("ssssssss-iiiiiiii-oooooooo", as PowerSync's MongoLSN compares as a string): record headers, the DynamoDB sink's
 * `_version` and the checkpoint's `lastEventPosition` all use it. Resume tokens are written as canonical Extended JSON,
 * exactly the document the server gave.
 */

/**
 * Where an event stands in the oplog, which is the order sinks apply events in: its cluster time (seconds and
 * increment) and, because every operation of one transaction shares one cluster time, its ordinal among the
 * consecutive events with that cluster time. The relay assigns the ordinal and carries it across batches and
 * invocations in the checkpoint.
 */
export interface StreamPosition {
  readonly seconds: number;
  readonly increment: number;
  readonly ordinal: number;
}

const UINT32_MAX = 0xffff_ffff;
const FIELDS = ['seconds', 'increment', 'ordinal'] as const;

function assertVersion(version: StreamPosition): void {
  for (const field of FIELDS) {
    const value = version[field];
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
      throw new CdcError('RECORD_MALFORMED', `version ${field} ${String(value)} is not an unsigned 32-bit integer`);
    }
  }
}

export function positionAt(clusterTime: Timestamp, ordinal: number): StreamPosition {
  const version = { seconds: clusterTime.t, increment: clusterTime.i, ordinal };
  assertVersion(version);
  return version;
}

/** The previous event as the relay remembers it: with its cluster time, or as the version the checkpoint stores. */
export type PreviousEvent = { readonly clusterTime: Timestamp; readonly ordinal: number } | StreamPosition;

/** The ordinal of an event with cluster time `current`: one past the previous event's when they share a cluster time. */
export function nextOrdinal(previous: PreviousEvent | undefined, current: Timestamp): number {
  if (previous === undefined) return 0;
  const [seconds, increment] =
    'clusterTime' in previous ? [previous.clusterTime.t, previous.clusterTime.i] : [previous.seconds, previous.increment];
  return seconds === current.t && increment === current.i ? previous.ordinal + 1 : 0;
}

export function comparePositions(a: StreamPosition, b: StreamPosition): -1 | 0 | 1 {
  for (const field of FIELDS) {
    if (a[field] < b[field]) return -1;
    if (a[field] > b[field]) return 1;
  }
  return 0;
}

const hex8 = (value: number) => value.toString(16).padStart(8, '0');

/**
 * "ssssssss-iiiiiiii-oooooooo", fixed-width lowercase hex: byte order equals version order, so a DynamoDB condition
 * (`attribute < :version`) can compare it, and it stays readable in the console.
 */
export function positionKey(version: StreamPosition): string {
  assertVersion(version);
  return `${hex8(version.seconds)}-${hex8(version.increment)}-${hex8(version.ordinal)}`;
}

const SORTABLE = /^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})$/;

export function parsePositionKey(text: string): StreamPosition {
  const match = typeof text === 'string' ? SORTABLE.exec(text) : null;
  if (!match) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 64)) : typeof text;
    throw new CdcError('RECORD_MALFORMED', `version ${shown} is not ssssssss-iiiiiiii-oooooooo in lowercase hex`);
  }
  const [, seconds, increment, ordinal] = match as unknown as [string, string, string, string];
  return { seconds: Number.parseInt(seconds, 16), increment: Number.parseInt(increment, 16), ordinal: Number.parseInt(ordinal, 16) };
}

/** 2017-01-01T00:00:00Z. Change streams arrived with MongoDB 3.6 (late 2017), so no event is older. */
export const EXTERNAL_VERSION_EPOCH_SECONDS = 1_483_228_800;

/** The first second the external version cannot carry: 2017 + 2^31 s, in January 2085. */
export const EXTERNAL_VERSION_END_SECONDS = EXTERNAL_VERSION_EPOCH_SECONDS + 2 ** 31;

/**
 * The version as an OpenSearch/Elasticsearch external version (a long in [0, 2^63-1]), for version_type=external_gte:
 * `(seconds - 2017-01-01) * 2^32 + increment`. Counting from 2017 keeps it below 2^63 until January 2085. The ordinal
 * has no room: events of one transaction share a value, and external_gte accepts each of them, so their relative order
 * in the index relies on in-order delivery within a partition.
 */
export function positionToExternalLong(version: StreamPosition): bigint {
  assertVersion(version);
  if (version.seconds < EXTERNAL_VERSION_EPOCH_SECONDS || version.seconds >= EXTERNAL_VERSION_END_SECONDS) {
    throw new CdcError(
      'RECORD_MALFORMED',
      `cluster time ${version.seconds} s is outside the range an external version can carry (2017-01-01 to 2085-01-19)`,
    );
  }
  return (BigInt(version.seconds - EXTERNAL_VERSION_EPOCH_SECONDS) << 32n) + BigInt(version.increment);
}

/** The cluster time of a change event, when it has one (an invalidate from some servers has none). */
export function clusterTimeOfEvent(event: ChangeStreamDocument): Timestamp | undefined {
  const clusterTime = (event as { clusterTime?: unknown }).clusterTime;
  return bsonTypeOf(clusterTime) === 'Timestamp'
    ? (clusterTime as Timestamp)
    : undefined;
}

/** The position of an event with this cluster time after `previous`: its ordinal continues a shared cluster time. */
export function nextPosition(previous: StreamPosition | undefined, clusterTime: Timestamp): StreamPosition {
  return positionAt(clusterTime, nextOrdinal(previous, clusterTime));
}

/** Where a stream resumes: after a token, after an invalidate's token, or from a time (no token yet, or a reset). */
export type ResumePoint =
  | { readonly kind: 'resumeAfter' | 'startAfter'; readonly token: ResumeToken }
  | { readonly kind: 'startAtOperationTime'; readonly seconds: number; readonly increment: number }
  | { readonly kind: 'now' };

/** A resume token as text: canonical Extended JSON, so it restores exactly and two tokens compare as strings. */
export function resumeTokenText(token: ResumeToken): string {
  return BSON.EJSON.stringify(token, { relaxed: false });
}

/** A resume point as the checkpoint item stores it: `resumeKind` and `resumeValue`. */
export function encodeResumePoint(resume: ResumePoint): { kind: string; value: string } {
  switch (resume.kind) {
    case 'resumeAfter':
    case 'startAfter':
      return { kind: resume.kind, value: resumeTokenText(resume.token) };
    case 'startAtOperationTime':
      return { kind: resume.kind, value: `${resume.seconds}.${resume.increment}` };
    case 'now':
      return { kind: 'now', value: '' };
  }
}

const OPERATION_TIME = /^(\d{1,10})\.(\d{1,10})$/;

/**
 * The inverse of `encodeResumePoint`, strict: an item without either field is a stream that never checkpointed
 * (its lease was taken first), which starts as new; any other checkpoint that cannot be decoded throws CHECKPOINT_CONFLICT (the
 * relay stalls the stream for an operator), never falls back to "now", which would skip changes with no gap recorded.
 */
export function decodeResumePoint(kind: string | undefined, value: string | undefined): ResumePoint {
  const corrupt = (why: string): never => {
    throw new CdcError('CHECKPOINT_CONFLICT', `checkpoint resume point cannot be decoded: ${why}`);
  };
  switch (kind) {
    case 'resumeAfter':
    case 'startAfter': {
      let token: unknown;
      try {
        token = BSON.EJSON.parse(value ?? '', { relaxed: false });
      } catch (error) {
        return corrupt(`${kind} token ${JSON.stringify((value ?? '').slice(0, 64))} is not Extended JSON (${(error as Error).message})`);
      }
      if (typeof token !== 'object' || token === null || Array.isArray(token)) return corrupt(`${kind} token is not a document`);
      return { kind, token: token as ResumeToken };
    }
    case 'startAtOperationTime': {
      const match = OPERATION_TIME.exec(value ?? '');
      const seconds = Number(match?.[1]);
      const increment = Number(match?.[2]);
      if (!match || seconds > UINT32_MAX || increment > UINT32_MAX) {
        return corrupt(`operation time ${JSON.stringify(value)} is not "<seconds>.<increment>"`);
      }
      return { kind, seconds, increment };
    }
    case 'now':
      return { kind };
    case undefined:
      // An item the lease acquisition created for a stream that never saved a checkpoint: a new stream.
      if (value === undefined) return { kind: 'now' };
      return corrupt(`resumeValue ${JSON.stringify(value.slice(0, 64))} has no resumeKind`);
    default:
      return corrupt(`unknown resumeKind ${JSON.stringify(kind)}`);
  }
}
