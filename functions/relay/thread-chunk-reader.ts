import { BSON, type Document, type MongoClientOptions } from 'mongodb';
import { WorkerClient, type WorkerEntry, workerEntry } from '../../shared/worker-thread';
import { unpackRecords } from './record-transfer';
import type { StreamConfig } from './relay-config';
import type { KeyCursor } from './snapshot-plan';
import type { ChunkReadReply, ChunkReadRequest, ChunkReadWorkerData } from './snapshot-read-protocol';
import type { Chunk, ChunkReader, CopyTarget, ReadPoint } from './snapshot-reader';

/**
 * The module of the relay's threads (relay-worker.ts, which runs snapshot-read-worker.ts for this one): its bundle
 * beside a bundled relay (relay-worker.js), its TypeScript source otherwise.
 */
export const RELAY_WORKER = 'relay-worker';

export function snapshotReadWorkerEntry(): WorkerEntry | undefined {
  return workerEntry(__dirname, RELAY_WORKER);
}

/** The stream's document filter as canonical Extended JSON: its BSON values would not survive a clone. */
function filterText(filter: Document | undefined): { filter?: string } {
  return filter === undefined ? {} : { filter: BSON.EJSON.stringify(filter, { relaxed: false }) };
}

/** The chunk a read reply carries, its records back out of their one transferred buffer. */
function chunkOf(reply: Reply<'read'>): Chunk {
  return {
    documents: reply.documents,
    encoded: { ...reply.counts, records: unpackRecords(reply.packed) },
    next: reply.next,
    ...(reply.bracketUnsupported !== undefined ? { bracketUnsupported: reply.bracketUnsupported } : {}),
  };
}

/** How long a closing thread may take to end its connections before it is stopped anyway. */
const CLOSE_GRACE_MS = 2_000;

type Reply<Kind extends ChunkReadReply['kind']> = Extract<ChunkReadReply, { kind: Kind }>;

/**
 * A ChunkReader whose reads and encoding run on a worker thread with its own MongoDB client, so the thread that
 * produces the chunks spends no CPU on them. The thread starts at the first call and stops at `close` (the end of the
 * invocation's snapshot work); a thread that died (its error rejects the call in hand) is started again by the next.
 * Reads cross as messages; a chunk's records come back in one transferred buffer.
 */
export class ThreadChunkReader implements ChunkReader {
  private worker: WorkerClient<ChunkReadRequest, ChunkReadReply> | undefined;

  constructor(
    private readonly entry: WorkerEntry,
    private readonly uri: string,
    private readonly stream: StreamConfig,
    private readonly clientOptions: MongoClientOptions,
  ) {}

  async readPoint(): Promise<ReadPoint> {
    return ((await this.ask({ kind: 'readPoint' })) as Reply<'readPoint'>).at;
  }

  async hasDocuments(namespace: { db: string; coll: string }, at: ReadPoint): Promise<boolean> {
    return ((await this.ask({ kind: 'hasDocuments', namespace: { db: namespace.db, coll: namespace.coll }, at })) as Reply<'hasDocuments'>).has;
  }

  async read(namespace: { db: string; coll: string }, cursor: KeyCursor, limit: number, at: ReadPoint, target: CopyTarget, filter?: Document): Promise<Chunk> {
    const reply = (await this.ask({ kind: 'read', namespace: { db: namespace.db, coll: namespace.coll }, cursor, limit, at, target, ...filterText(filter) })) as Reply<'read'>;
    return chunkOf(reply);
  }

  async readFromNow(namespace: { db: string; coll: string }, cursor: KeyCursor, limit: number, target: CopyTarget, filter?: Document): Promise<{ at: ReadPoint; chunk: Chunk }> {
    const reply = (await this.ask({ kind: 'readFromNow', namespace: { db: namespace.db, coll: namespace.coll }, cursor, limit, target, ...filterText(filter) })) as Reply<'read'>;
    if (!reply.at) throw new Error('the reading thread answered readFromNow without its read point');
    return { at: reply.at, chunk: chunkOf(reply) };
  }


  /**
   * Starts the thread and connects its client while the relay does other work (the invocation's first live batch), so
   * the first chunk does not wait for the thread's start. A failure here shows again at the first read.
   */
  prepare(): void {
    this.ask({ kind: 'connect' }).catch(() => undefined);
  }

  /** Ends the thread's connections, then the thread; calls in hand reject. The next call starts a new thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker?.alive) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([worker.request({ kind: 'close' }).catch(() => undefined), grace]);
    clearTimeout(timer);
    await worker.terminate();
  }

  private ask(request: ChunkReadRequest): Promise<ChunkReadReply> {
    if (!this.worker?.alive) {
      const workerData: ChunkReadWorkerData = { role: 'snapshot-read', uri: this.uri, stream: this.stream, clientOptions: this.clientOptions };
      this.worker = new WorkerClient(this.entry, { name: `snapshot-read-${this.stream.id}`, workerData });
    }
    return this.worker.request(request);
  }
}
