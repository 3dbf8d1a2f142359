import type { ResumeToken } from 'mongodb';
import { usableCpus } from '../../shared/cpu-budget';
import { CdcError } from '../../shared/errors';
import type { ResumePoint } from '../../shared/stream-position';
import { WorkerClient, type WorkerEntry, workerEntry, WorkerGoneError } from '../../shared/worker-thread';
import { RELAY_WORKER } from './thread-chunk-reader';
import type { BatchRequest, BatchSource, ReadBatch } from './batch-reader';
import { type ReadReply, type ReadRequest, type ReadThreadData, resumePointToThread, tokenFromThread } from './read-protocol';
import { unpackRecords } from './record-transfer';
import type { ReadThreadMode, StreamConfig } from './relay-config';

/*
 * The relay's read thread: reading the change stream (getMore, BSON decoding) and encoding records run on a worker
 * thread (read-worker.ts) with its own MongoClient, while the relay's thread produces to Kafka and saves checkpoints.
 * Worth it where the function has more than one vCPU's worth of CPU (Lambda above 1,769 MB); with less, two threads only
 * take turns and the second one's memory (about 30 MiB, more with batches in flight) is spent for nothing.
 */

/** Whether the relay reads on a worker thread: `on`, or `auto` where more than one CPU's worth is usable. */
export function readsOnThread(mode: ReadThreadMode, parallelism: number = usableCpus()): boolean {
  return mode === 'on' || (mode === 'auto' && parallelism > 1);
}

/** The read thread's module: its own bundle beside the relay's bundle, or the TypeScript beside this file. */
export function readWorkerEntry(): WorkerEntry | undefined {
  return workerEntry(__dirname, RELAY_WORKER);
}

/**
 * The read thread the setting asks for (RELAY_READ_THREAD), or undefined to read on the relay's own thread. `on` in a
 * build without the read thread's module is a configuration error; `auto` then reads on the relay's thread.
 */
export function readThreadFor(mode: ReadThreadMode, connectionString: string, parallelism?: number): ReadThread | undefined {
  if (!readsOnThread(mode, parallelism)) return undefined;
  const entry = readWorkerEntry();
  if (entry) return new ReadThread(connectionString, entry);
  if (mode === 'on') {
    throw new CdcError('CONFIG_INVALID', "RELAY_READ_THREAD is on, but this build has no read thread module (read-worker) beside the relay's");
  }
  return undefined;
}

/**
 * One read thread for one connection string, started at the first change stream opened and kept for later
 * invocations of a warm container (started again if it died). Change streams opened through it are BatchSources.
 */
export class ReadThread {
  private client: WorkerClient<ReadRequest, ReadReply | null> | undefined;
  private nextId = 0;

  constructor(
    private readonly connectionString: string,
    private readonly entry: WorkerEntry,
  ) {}

  openSource(stream: StreamConfig, resume: ResumePoint, maxAwaitTimeMS: number): BatchSource {
    const worker = this.worker();
    const id = this.nextId++;
    const opened = worker.request({ kind: 'open', id, stream, resume: resumePointToThread(resume), maxAwaitTimeMS });
    // Its failure is the first read's failure; never an unhandled rejection.
    opened.catch(() => undefined);
    return new ThreadBatchSource(worker, id, opened);
  }

  /** Starts the thread and connects its client now rather than at the first read. */
  async start(): Promise<void> {
    await this.worker().request({ kind: 'connect' });
  }

  /** Milliseconds the thread's event loop has been busy since it started (0 before it started): a benchmark's account. */
  busyMs(): number {
    return this.client?.eventLoopUtilization().active ?? 0;
  }

  /** Stops the thread (and its MongoClient with it). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.terminate();
  }

  private worker(): WorkerClient<ReadRequest, ReadReply | null> {
    if (!this.client?.alive) {
      const workerData: ReadThreadData = { connectionString: this.connectionString };
      this.client = new WorkerClient(this.entry, { name: 'relay-read', workerData });
      this.client.unref();
    }
    return this.client;
  }
}

/** A change stream read on the read thread, one batch per request. */
class ThreadBatchSource implements BatchSource {
  readonly thread = 'worker';
  private token: ResumeToken | undefined;

  constructor(
    private readonly worker: WorkerClient<ReadRequest, ReadReply | null>,
    private readonly id: number,
    private readonly opened: Promise<unknown>,
  ) {}

  get resumeToken(): ResumeToken | undefined {
    return this.token;
  }

  async readBatch(request: BatchRequest): Promise<ReadBatch> {
    let reply: ReadReply | null;
    try {
      await this.opened;
      reply = await this.worker.request({ kind: 'read', id: this.id, ...request });
    } catch (error) {
      if (error instanceof WorkerGoneError) {
        throw new CdcError('READ_THREAD_FAILED', `the relay's read thread stopped: ${error.message}; nothing it read was checkpointed`, { cause: error });
      }
      throw error;
    }
    if (!reply) throw new Error('the read thread answered a read without a batch');
    if (reply.resumeToken) this.token = tokenFromThread(reply.resumeToken);
    const batch = {
      records: unpackRecords(reply.packed),
      events: reply.events,
      bytes: reply.bytes,
      deadLettered: reply.deadLettered,
      trimmed: reply.trimmed,
      ...(reply.last ? { last: { token: tokenFromThread(reply.last.token), position: reply.last.position, invalidate: reply.last.invalidate } } : {}),
    };
    return { batch, deadLetters: reply.deadLetters };
  }

  async close(): Promise<void> {
    // A thread that is gone holds no change stream any more.
    if (this.worker.alive) await this.worker.request({ kind: 'close', id: this.id }).catch(() => undefined);
  }
}
