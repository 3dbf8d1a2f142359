import { randomBytes } from 'node:crypto';
import type { Document } from 'mongodb';
import { CdcError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { Metrics } from '../../shared/metrics';
import type { Lease } from './checkpoint-store';
import type { RecordProducer } from './record-producer';
import type { StreamConfig } from './relay-config';
import { isFinished, START, TYPE_BRACKETS } from './snapshot-plan';
import type { Chunk, ChunkReader, ReadPoint } from './snapshot-reader';
import type { EncodedCopies } from './snapshot-records';
import { snapshotDocumentFilter, splitNamespace } from './snapshot-scope';
import type { SnapshotProgress, SnapshotRequest, SnapshotStore } from './snapshot-store';

/** What the relay hands the snapshot step, besides the producer and the lease it already holds. */
export interface SnapshotDeps {
  readonly store: SnapshotStore;
  readonly reader: ChunkReader;
  /** The namespaces a snapshot of the stream copies ("db.coll", sorted), or just `only` after checking its scope. */
  readonly namespaces: (only?: string) => Promise<string[]>;
  readonly estimatedCount: (namespace: string) => Promise<number>;
}

export interface ChunkResult {
  readonly documents: number;
  readonly finished: boolean;
}

/** A chunk as read, with its records already encoded (a chunk read ahead is encoded as soon as it arrives). */
interface ReadChunk {
  readonly at: ReadPoint;
  readonly chunk: Chunk;
}

const NOTHING_ENCODED: EncodedCopies = { records: [], bytes: 0, deadLettered: 0, trimmed: 0, viaObjects: 0 };

/** Which chunk a read ahead is for: the snapshot, the collection and the cursor in it. */
const aheadKey = (progress: SnapshotProgress) => JSON.stringify([progress.id, progress.current, progress.cursor.bracket, progress.cursor.after ?? null]);

/** A snapshot id that sorts by time and reads well in a header: 20261130T001502Z-3fa9c1. */
export function newSnapshotId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/**
 * One stream's snapshot, copied in bounded chunks between the live stream's batches (the idea of Netflix DBLog and
 * Debezium's incremental snapshots). Each chunk reads the server's operation time T, then up to `chunkDocuments`
 * documents in `_id` order read at or after T, sends them as insert-shaped records with version T, and saves the
 * progress only after Kafka acknowledged them, with the same lease fencing as the checkpoint.
 */
export class SnapshotStep {
  private progress: SnapshotProgress | undefined;
  /** The next chunk of the current collection, read and encoded while this one is produced (see `readAhead`). */
  private ahead: { key: string; reading: Promise<ReadChunk> } | undefined;
  /**
   * The last chunk's progress save, still running: it runs beside the next chunk's produce (that chunk is only sent,
   * never saved, before this save is done) and every turn ends by waiting for it (`settle`).
   */
  private saving: Promise<void> | undefined;
  private readonly documentFilter: Document | undefined;
  private readonly notApplied: string[];

  constructor(
    private readonly deps: SnapshotDeps,
    private readonly producer: RecordProducer,
    private readonly stream: StreamConfig,
    private readonly lease: Lease,
    private readonly leaseExpiry: () => number,
    private readonly maxRecordBytes: number,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly now: () => number,
  ) {
    const { filter, notApplied } = snapshotDocumentFilter(stream);
    this.documentFilter = filter;
    this.notApplied = notApplied;
  }

  get active(): boolean {
    return this.progress !== undefined;
  }

  /**
   * Picks up the running snapshot, or starts the requested one, or (for a stream that never ran, with
   * `snapshot: initial`) starts the initial one. Call before a new stream saves its starting point, so a crash between
   * the two leaves a stream that still copies what existed.
   */
  async begin(brandNew: boolean): Promise<void> {
    const record = await this.deps.store.readSnapshots(this.stream.id);
    if (record.running) {
      this.progress = record.running;
      this.logger.info({ event: 'relay.snapshot-resumed', ...this.describe(record.running) });
      this.deps.reader.prepare?.();
      return;
    }
    let request = record.request;
    if (!request && brandNew && this.stream.snapshot === 'initial') {
      request = { id: newSnapshotId(new Date(this.now())), by: 'initial snapshot', at: new Date(this.now()).toISOString() };
    }
    if (!request) return;
    await this.start(request);
  }

  private async start(request: SnapshotRequest): Promise<void> {
    const namespaces = await this.deps.namespaces(request.namespace);
    let estimated = 0;
    for (const namespace of namespaces) estimated += await this.deps.estimatedCount(namespace);
    const progress: SnapshotProgress = {
      id: request.id,
      by: request.by,
      requestedAt: request.at,
      startedAt: new Date(this.now()).toISOString(),
      ...(request.namespace ? { namespace: request.namespace } : {}),
      namespaces,
      current: 0,
      cursor: START,
      copied: 0,
      estimated,
    };
    await this.deps.store.startSnapshot(this.lease, progress, this.leaseExpiry());
    this.progress = progress;
    this.deps.reader.prepare?.();
    this.logger.info({ event: 'relay.snapshot-started', ...this.describe(progress), namespaces: namespaces.length, estimated });
    if (this.notApplied.length > 0) {
      // The stream's pipeline shapes change events; a copy is a document. Say once what the copy does not honour.
      this.logger.warn({ event: 'relay.snapshot-pipeline-not-applied', streamId: this.stream.id, snapshotId: progress.id, stages: this.notApplied });
    }
  }

  /**
   * Copies one chunk (skipping empty type brackets and empty collections on the way, while there is time) and starts
   * saving the progress once Kafka acknowledged it; the save runs beside the next chunk's produce, and `settle` waits
   * for it. Throws KAFKA_PRODUCE_FAILED (this chunk's progress not saved) or LEASE_LOST (from this or the previous
   * chunk's save: with a lost lease at most this one chunk more reached Kafka, a repeat the sinks absorb by version).
   */
  async copyChunk(hasTime: () => boolean): Promise<ChunkResult> {
    let progress = this.progress;
    if (!progress) return { documents: 0, finished: true };
    const started = this.now();
    let documents = 0;
    let readMs = 0;
    let produceMs = 0;
    let checkpointMs = 0;
    let bytes = 0;
    let deadLettered = 0;
    let trimmed = 0;
    const namespace = progress.namespaces[progress.current];
    let readAt = '';
    do {
      const current = progress.namespaces[progress.current];
      if (current === undefined) break;
      const [db, coll] = splitNamespace(current);
      const readStarted = this.now();
      const { at, chunk } = await this.readChunk(progress, db, coll);
      const { encoded } = chunk;
      readMs += this.now() - readStarted;
      // Read the next chunk of this collection while this one goes to Kafka: reading and producing overlap.
      if (!isFinished(chunk.next) && chunk.documents > 0 && hasTime()) this.readAhead({ ...progress, cursor: chunk.next }, db, coll);
      readAt = `${at.seconds}.${at.increment}`;
      if (chunk.bracketUnsupported) {
        this.logger.warn({ event: 'relay.snapshot-bracket-unsupported', streamId: this.stream.id, namespace: current, bracket: chunk.bracketUnsupported });
      }
      bytes += encoded.bytes;
      deadLettered += encoded.deadLettered;
      trimmed += encoded.trimmed;
      if (encoded.records.length > 0) {
        const produceStarted = this.now();
        let producedAt = produceStarted;
        let savedAt = produceStarted;
        // The previous chunk's progress save finishes beside this chunk's produce.
        const [sent, saved] = await Promise.allSettled([
          this.producer.send(encoded.records).then(() => {
            producedAt = this.now();
          }),
          this.settle().then(() => {
            savedAt = this.now();
          }),
        ]);
        if (saved.status === 'rejected') throw saved.reason;
        if (sent.status === 'rejected') {
          const error = sent.reason as Error;
          this.metrics.add('KafkaProduceErrors', 'Count', 1);
          this.logger.error({ event: 'relay.snapshot-produce-failed', streamId: this.stream.id, snapshotId: progress.id, namespace: current, documents: chunk.documents, error: error.message });
          throw new CdcError('KAFKA_PRODUCE_FAILED', `Kafka did not acknowledge a snapshot chunk of ${chunk.documents} documents for stream "${this.stream.id}"; its progress was not saved`, { cause: error });
        }
        produceMs += producedAt - produceStarted;
        checkpointMs += Math.max(0, savedAt - producedAt);
      }
      documents += chunk.documents;
      const namespaceDone = isFinished(chunk.next);
      progress = {
        ...progress,
        current: namespaceDone ? progress.current + 1 : progress.current,
        cursor: namespaceDone ? START : chunk.next,
        copied: progress.copied + chunk.documents,
      };
    } while (documents === 0 && progress.current < progress.namespaces.length && hasTime());

    const finished = progress.current >= progress.namespaces.length;
    const checkpointStarted = this.now();
    if (finished) {
      await this.settle();
      await this.deps.store.finishSnapshot(
        this.lease,
        {
          id: progress.id,
          by: progress.by,
          requestedAt: progress.requestedAt,
          startedAt: progress.startedAt,
          finishedAt: new Date(this.now()).toISOString(),
          documents: progress.copied,
          ...(progress.namespace ? { namespace: progress.namespace } : {}),
        },
        this.leaseExpiry(),
      );
      this.progress = undefined;
    } else {
      // Saves run one at a time, in order: a chunk with nothing to send (an empty bracket) waits for the last save.
      await this.settle();
      const saving = this.deps.store.saveSnapshot(this.lease, progress, this.leaseExpiry());
      // Awaited by the next produce or by `settle`; never an unhandled rejection meanwhile.
      saving.catch(() => undefined);
      this.saving = saving;
      this.progress = progress;
    }
    const remaining = Math.max(0, progress.estimated - progress.copied);
    this.logger.info({
      event: 'relay.snapshot-chunk',
      ...this.describe(progress),
      namespace,
      documents,
      bytes,
      readAt,
      readMs,
      produceMs,
      checkpointMs: checkpointMs + (this.now() - checkpointStarted),
      chunkMs: this.now() - started,
      copied: progress.copied,
      estimated: progress.estimated,
      deadLettered,
      trimmed,
    });
    this.metrics.add('SnapshotDocuments', 'Count', documents);
    this.metrics.add('SnapshotRemaining', 'Count', finished ? 0 : remaining);
    if (deadLettered > 0) this.metrics.add('EventsDeadLettered', 'Count', deadLettered);
    if (trimmed > 0) this.metrics.add('EventsTrimmed', 'Count', trimmed);
    this.metrics.flush();
    if (finished) {
      this.logger.info({ event: 'relay.snapshot-finished', ...this.describe(progress), copied: progress.copied });
    }
    return { documents, finished };
  }

  /**
   * The chunk at the progress's cursor: the one read ahead when it is for that very cursor, else read now. Each chunk
   * reads its own T just before its own documents, so a chunk read ahead and produced later (after live batches
   * relayed newer changes) is still correct: those changes are after its T and supersede it in the sinks.
   */
  private async readChunk(progress: SnapshotProgress, db: string, coll: string): Promise<ReadChunk> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead?.key === aheadKey(progress)) return ahead.reading;
    const at = await this.deps.reader.readPoint();
    // A collection found empty after T needs no bracket walk: whatever is written to it later is after T, in the stream.
    const empty = progress.cursor.bracket === START.bracket && progress.cursor.after === undefined && !(await this.deps.reader.hasDocuments({ db, coll }, at));
    const chunk: Chunk = empty
      ? { documents: 0, encoded: NOTHING_ENCODED, next: { bracket: TYPE_BRACKETS.length } }
      : await this.deps.reader.read({ db, coll }, progress.cursor, this.stream.snapshotChunkDocuments, at, this.target(progress), this.documentFilter);
    return { at, chunk };
  }

  private target(progress: SnapshotProgress) {
    return { snapshotId: progress.id, maxRecordBytes: this.maxRecordBytes };
  }

  private readAhead(next: SnapshotProgress, db: string, coll: string): void {
    const reading = (async () => {
      // Encoded as soon as it arrives (by the reader), which is while the current chunk waits for Kafka: CPU work
      // beside that wait, on another thread where the reader has one (which also takes the read point itself).
      const { reader } = this.deps;
      const namespace = { db, coll };
      const limit = this.stream.snapshotChunkDocuments;
      if (reader.readFromNow) return reader.readFromNow(namespace, next.cursor, limit, this.target(next), this.documentFilter);
      const at = await reader.readPoint();
      return { at, chunk: await reader.read(namespace, next.cursor, limit, at, this.target(next), this.documentFilter) };
    })();
    // Settled when the next chunk takes it, or abandoned at the end of the invocation; never an unhandled rejection.
    reading.catch(() => undefined);
    this.ahead = { key: aheadKey(next), reading };
  }

  /** Waits for the last chunk's progress save; the relay calls it at the end of every snapshot turn. */
  async settle(): Promise<void> {
    const saving = this.saving;
    this.saving = undefined;
    await saving;
  }

  /**
   * Waits for a chunk read ahead that no chunk will take and for a save (the invocation ends), so none outlives it,
   * then lets the reader release what it holds (its reading thread).
   */
  async abandon(): Promise<void> {
    const ahead = this.ahead;
    this.ahead = undefined;
    await ahead?.reading.catch(() => undefined);
    await this.settle().catch(() => undefined);
    await this.deps.reader.close?.().catch(() => undefined);
  }

  private describe(progress: SnapshotProgress) {
    return { streamId: this.stream.id, snapshotId: progress.id, requestedBy: progress.by };
  }
}
