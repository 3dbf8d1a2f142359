import {
  type ClientSession,
  type Db,
  type Document,
  Long,
  type MongoClient,
  MongoChangeStreamError,
  MongoCursorExhaustedError,
  type ResumeToken,
  Timestamp,
} from 'mongodb';
import { classifyMongoError } from '../../shared/mongo-errors';
import type { ResumePoint } from '../../shared/stream-position';
import { eventToken, RAW_VALUES } from './change-event-fields';

/*
 * A change stream read as MongoDB sends it: the relay issues `aggregate` with `$changeStream` and then `getMore` itself,
 * in one explicit session (a getMore must carry the lsid of the aggregate that opened its cursor), and keeps every event
 * as its BSON bytes (a slice of the reply): nothing is built per event until the record writer reads it. It keeps the
 * driver's ChangeStream rules (mongodb/lib/change_stream.js, cursor/change_stream_cursor.js) for what the relay relies
 * on: where it starts, which token it reports (the post-batch resume token at the end of a batch), and one resume after
 * a resumable error on a getMore.
 */

/** What the change stream watches: a collection, a database (`aggregate: 1`), or the deployment (on admin). */
export interface ChangeStreamScope {
  readonly database?: string | undefined;
  readonly collection?: string | undefined;
}

export interface RawChangeStreamOptions {
  /** The `$changeStream` stage's own options (fullDocument, fullDocumentBeforeChange, ...) besides where it starts. */
  readonly stage: Document;
  /** The stages after `$changeStream`. */
  readonly pipeline: readonly Document[];
  readonly resume: ResumePoint;
  readonly batchSize: number;
  /** How long a getMore waits for an event (its maxTimeMS, as the driver sends maxAwaitTimeMS). */
  readonly maxAwaitTimeMS: number;
}

/** The reply's events stay BSON bytes; everything else in it is decoded as the driver's change stream decodes it. */
const RAW_BATCHES = { ...RAW_VALUES, fieldsAsRaw: { firstBatch: true, nextBatch: true } } as const;

/** The driver's message for an event without a resume token (change_stream.js NO_RESUME_TOKEN_ERROR). */
const NO_RESUME_TOKEN = 'A change stream document has been received that lacks a resume token (_id).';
const CLOSED = 'ChangeStream is closed';

/** `_id` as the first element of a document: type 0x03, key "_id", NUL. Where MongoDB always puts an event's token. */
function startsWithDocumentId(event: Buffer): boolean {
  return event.length > 9 && event[4] === 0x03 && event[5] === 0x5f && event[6] === 0x69 && event[7] === 0x64 && event[8] === 0;
}

interface OpenCursor {
  readonly id: Long;
  /** The database and collection a getMore names: from the reply's `ns` (`db.$cmd.aggregate` for `aggregate: 1`). */
  readonly db: Db;
  readonly collection: string;
}

export class RawChangeStream {
  private session: ClientSession | undefined;
  private cursor: OpenCursor | undefined;
  /** The server closed the cursor (cursor id 0): after an invalidate, or when it was killed. */
  private exhausted = false;
  private events: Buffer[] = [];
  private next = 0;
  private postBatchResumeToken: ResumeToken | undefined;
  /** The resume token, decoded; or, while `tokenEvent` is set, still to be read from that event. */
  private token: ResumeToken | undefined;
  private tokenEvent: Buffer | undefined;
  /** Some event was handed out since the stream opened: a resume then goes after its token, never startAfter. */
  private hasReceived = false;
  private startAtOperationTime: Timestamp | undefined;
  private closed = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly client: MongoClient,
    private readonly scope: ChangeStreamScope,
    private readonly options: RawChangeStreamOptions,
  ) {
    const { resume } = options;
    if (resume.kind === 'resumeAfter' || resume.kind === 'startAfter') this.token = resume.token;
    if (resume.kind === 'startAtOperationTime') this.startAtOperationTime = new Timestamp({ t: resume.seconds, i: resume.increment });
  }

  /** The token to resume after: the last event's `_id`, or the post-batch resume token at a batch's end or when quiet. */
  get resumeToken(): ResumeToken | undefined {
    const event = this.tokenEvent;
    if (event) {
      this.tokenEvent = undefined;
      this.token = eventToken(event);
    }
    return this.token;
  }

  /**
   * The next event's BSON bytes, or null when a getMore returned none within maxAwaitTimeMS. The first call opens the
   * cursor (and, when its first batch is empty, waits one getMore, as the driver's tryNext does).
   */
  async tryNext(): Promise<Buffer | null> {
    if (this.closed) throw new MongoChangeStreamError(CLOSED);
    for (;;) {
      if (this.next < this.events.length) return this.take();
      if (this.exhausted) throw new MongoCursorExhaustedError();
      try {
        if (this.cursor === undefined) {
          await this.running(this.aggregate());
          if (this.next < this.events.length) return this.take();
          if (this.exhausted) return null;
        }
        await this.running(this.getMore());
        return this.next < this.events.length ? this.take() : null;
      } catch (error) {
        // As the driver: only an error on an open cursor's getMore is resumed from, and only a resumable one; the
        // aggregate that resumes is not retried again (its error reaches the relay).
        if (this.closed || this.cursor === undefined || classifyMongoError(error).kind !== 'resumable') throw error;
        await this.killCursor();
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.events = [];
    this.next = 0;
    try {
      // Killing the cursor first ends a getMore that is waiting on it; an aggregate still on its way opens a cursor
      // only once it answers, so that one is killed after it.
      await this.killCursor();
      await this.pending?.catch(() => undefined);
      await this.killCursor();
    } finally {
      const session = this.session;
      this.session = undefined;
      await session?.endSession();
    }
  }

  /** The aggregate or getMore under way (with its reply taken in), for `close` to wait for. */
  private async running(command: Promise<void>): Promise<void> {
    this.pending = command;
    try {
      await command;
    } finally {
      if (this.pending === command) this.pending = undefined;
    }
  }

  private take(): Buffer {
    const event = this.events[this.next++] as Buffer;
    if (!startsWithDocumentId(event) && eventToken(event) === undefined) throw new MongoChangeStreamError(NO_RESUME_TOKEN);
    // The driver's cacheResumeToken: the batch's last event leaves the post-batch resume token, any other its own _id.
    if (this.next === this.events.length && this.postBatchResumeToken) {
      this.tokenEvent = undefined;
      this.token = this.postBatchResumeToken;
    } else {
      this.tokenEvent = event;
    }
    this.hasReceived = true;
    return event;
  }

  private sessionFor(): ClientSession {
    // Causal consistency would add readConcern afterClusterTime to the aggregate, which the driver's change stream
    // (an implicit session) never sends.
    this.session ??= this.client.startSession({ causalConsistency: false });
    return this.session;
  }

  /** Where the (re)opened stream starts: the driver's ChangeStreamCursor.resumeOptions. */
  private startOptions(): Document {
    const token = this.resumeToken;
    if (token !== undefined) {
      return this.options.resume.kind === 'startAfter' && !this.hasReceived ? { startAfter: token } : { resumeAfter: token };
    }
    return this.startAtOperationTime ? { startAtOperationTime: this.startAtOperationTime } : {};
  }

  private async aggregate(): Promise<void> {
    const { scope, options } = this;
    const deployment = scope.database === undefined;
    const stage: Document = { ...options.stage, ...this.startOptions(), ...(deployment ? { allChangesForCluster: true } : {}) };
    const db = this.client.db(deployment ? 'admin' : (scope.database as string));
    const command: Document = {
      aggregate: scope.database !== undefined && scope.collection !== undefined ? scope.collection : 1,
      pipeline: [{ $changeStream: stage }, ...options.pipeline],
      cursor: { batchSize: options.batchSize },
    };
    const reply = await db.command(command, { ...RAW_BATCHES, session: this.sessionFor() });
    const cursor = reply.cursor as Document;
    const namespace = String(cursor.ns ?? '');
    const dot = namespace.indexOf('.');
    this.cursor = {
      id: Long.fromValue(cursor.id ?? 0),
      db: this.client.db(dot > 0 ? namespace.slice(0, dot) : db.databaseName),
      collection: dot > 0 ? namespace.slice(dot + 1) : String(command.aggregate),
    };
    // A stream opened at "now" resumes from the time the server opened it (the driver keeps the reply's operationTime).
    if (this.startAtOperationTime === undefined && this.token === undefined && reply.operationTime instanceof Timestamp) {
      this.startAtOperationTime = reply.operationTime;
    }
    this.accept(cursor, (cursor.firstBatch ?? []) as Buffer[]);
  }

  private async getMore(): Promise<void> {
    const cursor = this.cursor as OpenCursor;
    const reply = await cursor.db.command(
      { getMore: cursor.id, collection: cursor.collection, batchSize: this.options.batchSize, maxTimeMS: this.options.maxAwaitTimeMS },
      { ...RAW_BATCHES, session: this.sessionFor() },
    );
    const body = reply.cursor as Document;
    this.accept(body, (body.nextBatch ?? []) as Buffer[]);
  }

  /** A reply's batch: its events, its post-batch resume token (the token while quiet), and whether the cursor lives on. */
  private accept(cursor: Document, events: Buffer[]): void {
    this.events = events;
    this.next = 0;
    const postBatch = cursor.postBatchResumeToken as ResumeToken | undefined;
    if (postBatch) {
      this.postBatchResumeToken = postBatch;
      if (events.length === 0) {
        this.tokenEvent = undefined;
        this.token = postBatch;
      }
    }
    if (Long.fromValue(cursor.id ?? 0).isZero()) {
      this.exhausted = true;
      this.cursor = undefined;
    }
  }

  /** Releases the server's cursor (the driver's cursor.close); a failure to do so is not the caller's concern. */
  private async killCursor(): Promise<void> {
    const cursor = this.cursor;
    this.cursor = undefined;
    if (!cursor || !this.session) return;
    await cursor.db.command({ killCursors: cursor.collection, cursors: [cursor.id] }, { session: this.session }).catch(() => undefined);
  }
}
