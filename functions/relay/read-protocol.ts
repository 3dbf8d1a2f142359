import { BSON, type ResumeToken } from 'mongodb';
import type { ResumePoint, StreamPosition } from '../../shared/stream-position';
import type { DeadLetterNote } from './batch-reader';
import type { PackedRecords } from './record-transfer';
import type { StreamConfig } from './relay-config';

/*
 * What the relay and its read thread (functions/relay/read-worker.ts) say to each other. Resume tokens cross as BSON
 * bytes, decoded on the other side as the change stream decodes them, so a token saved from the main thread is the
 * document the server sent, byte for byte (a structured clone would drop the classes of its BSON values).
 */

/** workerData of the read thread. The connection string is resolved by the main thread and never logged. */
export interface ReadThreadData {
  readonly connectionString: string;
}

/** A resume point with its token as BSON bytes. */
export type ThreadResumePoint = Exclude<ResumePoint, { kind: 'resumeAfter' | 'startAfter' }> | { kind: 'resumeAfter' | 'startAfter'; token: Uint8Array };

export type ReadRequest =
  | { readonly kind: 'open'; readonly id: number; readonly stream: StreamConfig; readonly resume: ThreadResumePoint; readonly maxAwaitTimeMS: number }
  | {
      readonly kind: 'read';
      readonly id: number;
      readonly from: StreamPosition | undefined;
      readonly readUntil: number;
      readonly maxRecordBytes: number;
    }
  | { readonly kind: 'close'; readonly id: number }
  /** Starts the thread's client, for a caller that wants the thread ready before it is timed (a benchmark). */
  | { readonly kind: 'connect' };

export interface ReadReply {
  readonly packed: PackedRecords;
  readonly events: number;
  readonly bytes: number;
  readonly deadLettered: number;
  readonly trimmed: number;
  readonly deadLetters: readonly DeadLetterNote[];
  readonly last?: { readonly token: Uint8Array; readonly position: StreamPosition | undefined; readonly invalidate: boolean };
  /** The source's newest resume token after this batch. */
  readonly resumeToken?: Uint8Array;
}

/** As the change stream decodes its documents (change-source.ts): every value keeps its BSON type. */
const DECODE_AS_CHANGE_STREAM = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** The token's BSON, in a buffer of its own (a pooled Buffer would be cloned with its whole slab). */
export function tokenToThread(token: ResumeToken): Uint8Array {
  return new Uint8Array(BSON.serialize(token as BSON.Document));
}

export function tokenFromThread(bytes: Uint8Array): ResumeToken {
  return BSON.deserialize(bytes, DECODE_AS_CHANGE_STREAM) as ResumeToken;
}

export function resumePointToThread(resume: ResumePoint): ThreadResumePoint {
  switch (resume.kind) {
    case 'resumeAfter':
    case 'startAfter':
      return { kind: resume.kind, token: tokenToThread(resume.token) };
    default:
      return resume;
  }
}

export function resumePointFromThread(resume: ThreadResumePoint): ResumePoint {
  switch (resume.kind) {
    case 'resumeAfter':
    case 'startAfter':
      return { kind: resume.kind, token: tokenFromThread(resume.token) };
    default:
      return resume;
  }
}
