import { BSON, type Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from '../../shared/errors';
import { RecordingMetrics } from '../../shared/metrics';
import { RecordingLogger } from '../../test/support/recording-logger';
import type { Lease } from './checkpoint-store';
import type { OutgoingRecord, RecordProducer } from './record-producer';
import { streamSchema } from './relay-config';
import { advance, type KeyCursor } from './snapshot-plan';
import type { Chunk, ChunkReader, CopyTarget, ReadPoint } from './snapshot-reader';
import { CopyEncoder } from './snapshot-records';
import { newSnapshotId, SnapshotStep } from './snapshot-step';
import type { SnapshotProgress, SnapshotRecord, SnapshotRequest, SnapshotRun, SnapshotStore } from './snapshot-store';

/** In-memory stand-ins for the adapters, for the step's decisions alone; the adapters have integration tests. */
class MemorySnapshots implements SnapshotStore {
  record: { request?: SnapshotRequest; running?: SnapshotProgress; runs: SnapshotRun[] } = { runs: [] };
  saves: SnapshotProgress[] = [];
  loseLease = false;

  async readSnapshots(): Promise<SnapshotRecord> {
    return this.record;
  }
  async requestSnapshot(_streamId: string, request: SnapshotRequest): Promise<void> {
    this.record.request = request;
  }
  async startSnapshot(_lease: Lease, progress: SnapshotProgress): Promise<void> {
    this.fence();
    delete this.record.request;
    this.record.running = progress;
  }
  async saveSnapshot(_lease: Lease, progress: SnapshotProgress): Promise<void> {
    this.fence();
    this.saves.push(progress);
    this.record.running = progress;
  }
  async finishSnapshot(_lease: Lease, run: SnapshotRun): Promise<void> {
    this.fence();
    delete this.record.running;
    this.record.runs.push(run);
  }
  private fence() {
    if (this.loseLease) throw new CdcError('LEASE_LOST', 'epoch moved on');
  }
}

/** A collection of numbered documents, read as the plan asks: number bracket only, in chunks. */
class MemoryReader implements ChunkReader {
  /** The cursors read, in order (a chunk read ahead included). */
  readonly reads: KeyCursor[] = [];
  constructor(private readonly documents: Document[]) {}
  /** Read points taken: each chunk, a chunk read ahead included, takes its own first. */
  points = 0;
  async readPoint(): Promise<ReadPoint> {
    this.points++;
    return { seconds: 1_800_000_000, increment: 1, fromServer: true };
  }
  async hasDocuments(): Promise<boolean> {
    return this.documents.length > 0;
  }
  async read(ns: { db: string; coll: string }, cursor: KeyCursor, limit: number, at: ReadPoint, target: CopyTarget): Promise<Chunk> {
    this.reads.push(cursor);
    const encoder = new CopyEncoder(ns, at, target.snapshotId, stream, target.maxRecordBytes);
    if (cursor.bracket !== 2) return { documents: 0, encoded: encoder.encode([]), next: { bracket: cursor.bracket + 1 } };
    const after = cursor.after === undefined ? -Infinity : Number(JSON.parse(cursor.after).$numberInt);
    const documents = this.documents.filter((document) => (document._id as number) > after).slice(0, limit);
    // As the server sends them (BSON bytes), encoded as the real readers encode them.
    const encoded = encoder.encode(documents.map((document) => Buffer.from(BSON.serialize(document))));
    return { documents: documents.length, encoded, next: advance(cursor, documents.at(-1)?._id, documents.length === limit) };
  }
}

class MemoryProducer implements RecordProducer {
  sent: OutgoingRecord[] = [];
  fail = false;
  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.fail) throw new Error('broker down');
    this.sent.push(...records);
  }
}

const stream = streamSchema.parse({ id: 'orders', database: 'shop', collection: 'orders', snapshotChunkDocuments: 10 });
const lease: Lease = { streamId: 'orders', owner: 'test', epoch: 1 };

function build(documents: number, options: { stream?: typeof stream } = {}) {
  const store = new MemorySnapshots();
  const producer = new MemoryProducer();
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const reader = new MemoryReader(Array.from({ length: documents }, (_, index) => ({ _id: index })));
  const step = new SnapshotStep(
    { store, reader, namespaces: async () => ['shop.orders'], estimatedCount: async () => documents },
    producer,
    options.stream ?? stream,
    lease,
    () => 0,
    1_000_000,
    logger,
    metrics,
    () => Date.parse('2026-11-30T00:00:00Z'),
  );
  return { store, producer, logger, metrics, step, reader };
}

describe('snapshot step decisions', () => {
  it('starts the initial snapshot only for a brand-new stream with snapshot: initial', async () => {
    const fresh = build(5);
    await fresh.step.begin(true);
    expect(fresh.step.active).toBe(true);
    expect(fresh.store.record.running).toMatchObject({ by: 'initial snapshot', namespaces: ['shop.orders'], estimated: 5, copied: 0 });

    const old = build(5);
    await old.step.begin(false);
    expect(old.step.active).toBe(false);

    const never = build(5, { stream: streamSchema.parse({ ...stream, snapshot: 'never' }) });
    await never.step.begin(true);
    expect(never.step.active).toBe(false);
  });

  it('copies chunk by chunk, saving progress after each acknowledged chunk, and records the finished run', async () => {
    // Prepare
    const { store, producer, step, logger, metrics } = build(25);
    await step.begin(true);

    // Act
    const results = [];
    while (step.active) results.push(await step.copyChunk(() => true));

    // Assess: the short third chunk ends the number bracket; the last call walks the (empty) brackets after it.
    expect(results.map((result) => result.documents)).toEqual([10, 10, 5, 0]);
    expect(store.saves.map((save) => save.copied)).toEqual([10, 20, 25]);
    expect(store.saves[1]?.cursor).toEqual({ bracket: 2, after: '{"$numberInt":"19"}' });
    expect(store.record.runs).toEqual([expect.objectContaining({ documents: 25, by: 'initial snapshot', finishedAt: '2026-11-30T00:00:00.000Z' })]);
    expect(producer.sent).toHaveLength(25);
    expect(logger.named('relay.snapshot-chunk')).toHaveLength(4);
    expect(logger.named('relay.snapshot-chunk')[0]).toMatchObject({ namespace: 'shop.orders', documents: 10, copied: 10, estimated: 25 });
    expect(metrics.total('SnapshotDocuments')).toBe(25);
    expect(metrics.emitted.filter((metric) => metric.name === 'SnapshotRemaining').map((metric) => metric.value)).toEqual([15, 5, 0, 0]);
  });

  it('saves no progress when Kafka does not acknowledge a chunk', async () => {
    // Prepare
    const { store, producer, step, metrics } = build(25);
    await step.begin(true);
    await step.copyChunk(() => true);
    producer.fail = true;

    // Act
    const failed = step.copyChunk(() => true);

    // Assess
    await expect(failed).rejects.toMatchObject({ code: 'KAFKA_PRODUCE_FAILED' });
    expect(store.saves.map((save) => save.copied)).toEqual([10]);
    expect(metrics.total('KafkaProduceErrors')).toBe(1);
  });

  it('stops with LEASE_LOST when the progress write is fenced off, at the end of the turn', async () => {
    const { store, step } = build(25);
    await step.begin(true);
    store.loseLease = true;
    await step.copyChunk(() => true);
    await expect(step.settle()).rejects.toMatchObject({ code: 'LEASE_LOST' });
  });

  it('stops with LEASE_LOST at the next chunk, which is sent but never saved: at most one chunk more reaches Kafka', async () => {
    // Prepare
    const { store, producer, step } = build(25);
    await step.begin(true);
    store.loseLease = true;

    // Act
    await step.copyChunk(() => true);
    const next = step.copyChunk(() => true);

    // Assess
    await expect(next).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(producer.sent).toHaveLength(20);
    expect(store.record.running?.copied ?? 0).toBe(0);
    await expect(step.settle()).resolves.toBeUndefined();
  });

  it('saves a chunk\'s progress only after Kafka acknowledged it, beside the next chunk\'s produce, one save at a time', async () => {
    // Prepare: Kafka acknowledges only when told; a save completes only when told.
    const { store, producer, step } = build(35);
    await step.begin(true);
    const acks: (() => void)[] = [];
    producer.send = (records) => {
      producer.sent.push(...records);
      return new Promise<void>((resolve) => acks.push(resolve));
    };
    const saveDone: (() => void)[] = [];
    const events: string[] = [];
    const save = store.saveSnapshot.bind(store);
    store.saveSnapshot = async (lease_: Lease, progress: SnapshotProgress) => {
      events.push(`save ${progress.copied} started`);
      await new Promise<void>((resolve) => saveDone.push(resolve));
      await save(lease_, progress);
      events.push(`save ${progress.copied} done`);
    };
    const settleAll = async () => {
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    };

    // Act: first chunk
    const first = step.copyChunk(() => true);
    await settleAll();
    expect(events).toEqual([]);
    acks.shift()?.();
    await first;
    expect(events).toEqual(['save 10 started']);

    // The second chunk goes to Kafka while the first chunk's save runs; its own save waits for both.
    const second = step.copyChunk(() => true);
    await settleAll();
    expect(producer.sent).toHaveLength(20);
    expect(events).toEqual(['save 10 started']);
    saveDone.shift()?.();
    await settleAll();
    expect(events).toEqual(['save 10 started', 'save 10 done']);
    acks.shift()?.();
    await second;
    expect(events).toEqual(['save 10 started', 'save 10 done', 'save 20 started']);
    const settled = step.settle();
    saveDone.shift()?.();
    await settled;

    // Assess
    expect(store.saves.map((progress) => progress.copied)).toEqual([10, 20]);
  });

  it('resumes a running snapshot where its progress stands', async () => {
    // Prepare
    const { store, producer, step } = build(25);
    store.record.running = {
      id: 'snap-1',
      by: 'alice',
      requestedAt: '2026-11-29T00:00:00Z',
      startedAt: '2026-11-29T00:00:01Z',
      namespaces: ['shop.orders'],
      current: 0,
      cursor: { bracket: 2, after: '{"$numberInt":"19"}' },
      copied: 20,
      estimated: 25,
    };

    // Act
    await step.begin(false);
    while (step.active) await step.copyChunk(() => true);

    // Assess
    expect(producer.sent).toHaveLength(5);
    expect(store.record.runs).toEqual([expect.objectContaining({ id: 'snap-1', by: 'alice', documents: 25 })]);
  });

  it('reads the next chunk while this one is produced, and sends that chunk next without reading it again', async () => {
    // Prepare: a producer that notes which cursors had been read when each chunk was sent.
    const { producer, step, reader, store } = build(25);
    const readWhenSent: number[] = [];
    const send = producer.send.bind(producer);
    producer.send = async (records) => {
      readWhenSent.push(reader.points);
      await send(records);
    };
    await step.begin(true);

    // Act
    while (step.active) await step.copyChunk(() => true);

    // Assess: when each chunk went to Kafka the next one's read had begun (the first after the two empty brackets before
    // numbers: 3 reads + 1 ahead); no cursor was read twice.
    expect(readWhenSent).toEqual([4, 5, 6]);
    const keys = reader.reads.map((cursor) => JSON.stringify(cursor));
    expect(new Set(keys).size).toBe(keys.length);
    expect(producer.sent.map((record) => record.key.toString())).toEqual(Array.from({ length: 25 }, (_, index) => `{"_id":{"$numberInt":"${index}"}}`));
    expect(store.record.runs).toEqual([expect.objectContaining({ documents: 25 })]);
  });

  it('reads nothing ahead once the time is up, and leaves nothing in flight when abandoned', async () => {
    // Prepare
    const { step, reader, producer } = build(25);
    await step.begin(true);
    await step.copyChunk(() => true);
    expect(reader.reads).toHaveLength(4);

    // Act: the next chunk is the one read ahead; with no time left nothing more is read.
    await step.copyChunk(() => false);
    const afterNoTime = reader.reads.length;
    await step.copyChunk(() => true);
    await step.abandon();

    // Assess
    expect(afterNoTime).toBe(4);
    // The last call took the chunk read ahead (the short one after 19) and began reading the next bracket.
    expect(reader.reads).toHaveLength(6);
    expect(producer.sent).toHaveLength(25);
  });

  it('gets its reader ready when a snapshot is running, and lets it release its thread when the invocation ends', async () => {
    // Prepare
    const { step, reader } = build(25);
    const calls: string[] = [];
    Object.assign(reader, { prepare: () => calls.push('prepare'), close: async () => void calls.push('close') });

    // Act
    await step.begin(true);
    const preparedBeforeAnyChunk = [...calls];
    await step.copyChunk(() => true);
    await step.abandon();

    // Assess
    expect(preparedBeforeAnyChunk).toEqual(['prepare']);
    expect(calls).toEqual(['prepare', 'close']);
  });

  it('names snapshots by time, sortable and unique', () => {
    const at = new Date('2026-11-30T00:15:02.123Z');
    expect(newSnapshotId(at)).toMatch(/^20261130T001502Z-[0-9a-f]{6}$/);
    expect(newSnapshotId(at)).not.toBe(newSnapshotId(at));
  });
});
