import { BSON, type Document, type Long, type MongoClient, MongoServerError, Timestamp } from 'mongodb';
import type { StreamConfig } from './relay-config';
import { CopyEncoder, type EncodedCopies, RAW_VALUES } from './snapshot-records';
import { advance, chunkFilter, type KeyCursor, TYPE_BRACKETS } from './snapshot-plan';

/** The time a chunk's copy is valid from: its version. `fromServer` says whether the server reported it. */
export interface ReadPoint {
  readonly seconds: number;
  readonly increment: number;
  readonly fromServer: boolean;
}

/** A chunk as the server sent it: the documents as BSON bytes (slices of the reply), never built into objects. */
export interface RawChunk {
  readonly documents: readonly Buffer[];
  /** Where the next chunk of this collection starts. */
  readonly next: KeyCursor;
  /** The server rejected the bracket's `$type` alias (the local stand-in lacks the deprecated ones). */
  readonly bracketUnsupported?: string;
}

/** A chunk read and encoded into its records, ready to produce. */
export interface Chunk {
  /** How many documents the chunk read (each is one copy, or its dead letter). */
  readonly documents: number;
  readonly encoded: EncodedCopies;
  /** Where the next chunk of this collection starts. */
  readonly next: KeyCursor;
  /** The server rejected the bracket's `$type` alias (the local stand-in lacks the deprecated ones). */
  readonly bracketUnsupported?: string;
}

/** What a chunk's records are encoded for: the snapshot they belong to and the largest record Kafka takes. */
export interface CopyTarget {
  readonly snapshotId: string;
  readonly maxRecordBytes: number;
}

export interface ChunkReader {
  /** The server's operation time now: read just before the chunk, so everything committed up to it is in the copy. */
  readPoint(): Promise<ReadPoint>;
  /** Reads up to `limit` documents after the cursor, at or after T, and encodes them into the copies' records. */
  read(namespace: { db: string; coll: string }, cursor: KeyCursor, limit: number, at: ReadPoint, target: CopyTarget, filter?: Document): Promise<Chunk>;
  /** Whether the collection holds any document, read at or after T: one indexed probe instead of every bracket. */
  hasDocuments(namespace: { db: string; coll: string }, at: ReadPoint): Promise<boolean>;
  /**
   * `readPoint`, then `read` at it, in one call: a reader on another thread does both there, without the read waiting
   * for the producing thread (busy encoding a produce request) to pass the read point back.
   */
  readFromNow?(namespace: { db: string; coll: string }, cursor: KeyCursor, limit: number, target: CopyTarget, filter?: Document): Promise<{ at: ReadPoint; chunk: Chunk }>;
  /** Gets ready for the first chunk in the background (starts a reading thread and connects it); never fails. */
  prepare?(): void;
  /** Releases what the reader holds beyond the invocation (a reading thread); the next read starts it again. */
  close?(): Promise<void>;
}

/** The reply's documents stay BSON bytes (slices of the reply); everything else in it is read as usual. */
const RAW_DOCUMENTS = { ...RAW_VALUES, fieldsAsRaw: { firstBatch: true } } as const;

/** MongoDB's own wording (BadValue) for a `$type` alias the server does not know. */
const UNKNOWN_TYPE_ALIAS = /Unknown type name alias/;

/**
 * Majority read at or after T: the copy holds every change committed up to T that the change stream can deliver, and
 * nothing that could still roll back. Only meaningful where the server keeps cluster time.
 */
function readConcernAfter(at: ReadPoint): Document {
  return at.fromServer ? { readConcern: { level: 'majority', afterClusterTime: new Timestamp({ t: at.seconds, i: at.increment }) } } : {};
}

/** Reads and encodes on the calling thread, through the given client. */
export class MongoChunkReader implements ChunkReader {
  constructor(
    private readonly client: MongoClient,
    private readonly stream: StreamConfig,
  ) {}

  async readPoint(): Promise<ReadPoint> {
    const reply = await this.client.db('admin').command({ ping: 1 });
    if (reply.operationTime instanceof Timestamp) {
      return { seconds: reply.operationTime.high, increment: reply.operationTime.low, fromServer: true };
    }
    // A server that reports no operation time (a standalone node, without a replica set's clock; the local stand-in
    // reports one) gets the wall clock less a margin: a time before the read, so later changes still supersede the
    // copy, never the reverse.
    return { seconds: Math.floor(Date.now() / 1000) - 2, increment: 0, fromServer: false };
  }

  async hasDocuments(namespace: { db: string; coll: string }, at: ReadPoint): Promise<boolean> {
    const reply = await this.client.db(namespace.db).command(
      { find: namespace.coll, filter: {}, projection: { _id: 1 }, limit: 1, singleBatch: true, ...readConcernAfter(at) },
      RAW_VALUES,
    );
    return ((reply.cursor?.firstBatch ?? []) as Document[]).length > 0;
  }

  async read(
    namespace: { db: string; coll: string },
    cursor: KeyCursor,
    limit: number,
    at: ReadPoint,
    target: CopyTarget,
    filter?: Document,
  ): Promise<Chunk> {
    return this.encode(namespace, await this.readRaw(namespace, cursor, limit, at, filter), at, target);
  }

  /** A chunk's documents encoded into the copies' records for read point `at`. */
  encode(namespace: { db: string; coll: string }, raw: RawChunk, at: ReadPoint, target: CopyTarget): Chunk {
    const encoded = new CopyEncoder(namespace, at, target.snapshotId, this.stream, target.maxRecordBytes).encode(raw.documents);
    return { documents: raw.documents.length, encoded, next: raw.next, ...(raw.bracketUnsupported !== undefined ? { bracketUnsupported: raw.bracketUnsupported } : {}) };
  }

  /** The chunk's documents as the server sent them, and where the next chunk starts. */
  async readRaw(namespace: { db: string; coll: string }, cursor: KeyCursor, limit: number, at: ReadPoint, filter?: Document): Promise<RawChunk> {
    const command: Document = {
      find: namespace.coll,
      filter: chunkFilter(cursor, filter),
      sort: { _id: 1 },
      limit,
      batchSize: limit,
    };
    Object.assign(command, readConcernAfter(at));
    let reply: Document;
    try {
      reply = await this.client.db(namespace.db).command(command, RAW_DOCUMENTS);
    } catch (error) {
      if (error instanceof MongoServerError && cursor.after === undefined && UNKNOWN_TYPE_ALIAS.test(error.message)) {
        return { documents: [], next: { bracket: cursor.bracket + 1 }, bracketUnsupported: TYPE_BRACKETS[cursor.bracket]?.name ?? '' };
      }
      throw error;
    }
    const documents = (reply.cursor?.firstBatch ?? []) as Buffer[];
    const cursorId = reply.cursor?.id as Long | number | undefined;
    const more = cursorId !== undefined && Number(cursorId) !== 0;
    if (more) {
      // The server cut the reply at its size limit: release the cursor and continue from the last key next time.
      await this.client
        .db(namespace.db)
        .command({ killCursors: namespace.coll, cursors: [cursorId] })
        .catch(() => undefined);
    }
    const last = documents.at(-1);
    // The next chunk starts after the last _id, read as the object path reads it.
    const lastId = last === undefined ? undefined : (BSON.deserialize(last, RAW_VALUES) as Document)._id;
    return { documents, next: advance(cursor, lastId, documents.length === limit || more) };
  }
}
