import { type ChangeStreamDocument, MongoServerError, type ResumeToken, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from '../../shared/errors';
import { RecordingMetrics } from '../../shared/metrics';
import { RecordingLogger } from '../../test/support/recording-logger';
import type { ChangeSource } from './change-source';
import type { Checkpoint, CheckpointStore, CheckpointUpdate, Lease } from './checkpoint-store';
import type { OutgoingRecord, RecordProducer } from './record-producer';
import { streamSchema } from './relay-config';
import { type RelayDeps, relayStream } from './relay-stream';

/** In-memory stand-ins for the adapters, for the relay's decisions alone; the adapters have integration tests. */
class MemoryStore implements CheckpointStore {
  checkpoint: Checkpoint | undefined;
  saves: CheckpointUpdate[] = [];
  stalled: { code: string; reason: string } | undefined;
  loseLeaseAfterSaves = Number.POSITIVE_INFINITY;

  async acquireLease(streamId: string, owner: string): Promise<Lease> {
    return { streamId, owner, epoch: 1 };
  }
  async read(): Promise<Checkpoint | undefined> {
    return this.checkpoint;
  }
  async save(_lease: Lease, update: CheckpointUpdate): Promise<void> {
    if (this.saves.length >= this.loseLeaseAfterSaves) throw new CdcError('LEASE_LOST', 'epoch moved on');
    this.saves.push(update);
  }
  async markStalled(_lease: Lease, code: string, reason: string): Promise<void> {
    this.stalled = { code, reason };
  }
  async markStopped(): Promise<void> {}
  async release(): Promise<void> {}
  async reset(): Promise<void> {}
}

function insert(n: number): ChangeStreamDocument {
  return {
    _id: { _data: `token-${n}` },
    operationType: 'insert',
    clusterTime: new Timestamp({ t: 1_800_000_000, i: n }),
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: n },
    fullDocument: { _id: n },
  } as unknown as ChangeStreamDocument;
}

function sourceOf(steps: Array<ChangeStreamDocument | Error | null>): ChangeSource {
  let last: ResumeToken | undefined;
  return {
    async tryNext() {
      const step = steps.shift();
      if (step instanceof Error) throw step;
      if (step) last = step._id;
      return step ?? null;
    },
    get resumeToken() {
      return last;
    },
    async close() {},
  };
}

const stream = streamSchema.parse({ id: 'orders', database: 'shop', collection: 'orders', batch: { maxEvents: 2, maxWaitMs: 60_000 } });
const limits = { maxRecordBytes: 1_000_000, idleCheckpointMs: 30_000, safetyMarginMs: 0, leaseGraceMs: 0 };

function deps(store: CheckpointStore, source: ChangeSource, producer: RecordProducer) {
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const built: RelayDeps = {
    store,
    producer,
    openSource: () => source,
    serverTime: async () => ({ seconds: 1_800_000_000, increment: 0 }),
    logger,
    metrics,
  };
  return { built, logger, metrics };
}

/** A budget that lasts for a fixed number of loop checks, so each test is deterministic and instant. */
function budget(checks: number) {
  let left = checks;
  return { owner: 'test', remainingMs: () => (left-- > 0 ? 60_000 : 0) };
}

describe('relayStream decisions', () => {
  it('marks the stream stalled, alarms and skips nothing when history is lost', async () => {
    const store = new MemoryStore();
    const lost = new MongoServerError({ code: 286, codeName: 'ChangeStreamHistoryLost', errmsg: 'resume point gone' });
    const { built, logger, metrics } = deps(store, sourceOf([lost]), { send: async () => undefined });

    const outcome = await relayStream(built, stream, limits, budget(5));

    expect(outcome).toMatchObject({ status: 'stalled', code: 'CHANGE_STREAM_HISTORY_LOST' });
    expect(store.stalled?.code).toBe('CHANGE_STREAM_HISTORY_LOST');
    expect(metrics.total('StreamStalled')).toBe(1);
    expect(logger.named('relay.history-lost')).toHaveLength(1);
    // Only the brand-new stream's starting point was saved; no event position moved.
    expect(store.saves.every((save) => save.eventsAdded === 0)).toBe(true);
  });

  it('refuses to relay a stalled stream until it is reset', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'now' }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x', stalled: { code: 'CHANGE_STREAM_HISTORY_LOST', reason: 'gone', at: 'x' } };
    const sent: OutgoingRecord[] = [];
    const { built } = deps(store, sourceOf([insert(1)]), { send: async (records) => void sent.push(...records) });

    expect(await relayStream(built, stream, limits, budget(5))).toMatchObject({ status: 'stalled' });
    expect(sent).toHaveLength(0);
  });

  it('writes no checkpoint when Kafka does not acknowledge, and fails the invocation', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 'token-0' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    const { built, metrics, logger } = deps(store, sourceOf([insert(1), insert(2)]), {
      send: async () => {
        throw new Error('broker down');
      },
    });

    await expect(relayStream(built, stream, limits, budget(5))).rejects.toMatchObject({ code: 'KAFKA_PRODUCE_FAILED' });
    expect(store.saves).toHaveLength(0);
    expect(metrics.total('KafkaProduceErrors')).toBe(1);
    expect(logger.named('relay.produce-failed')).toHaveLength(1);
  });

  it('stops producing at once when the lease is lost', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 'token-0' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    store.loseLeaseAfterSaves = 1;
    const sent: OutgoingRecord[] = [];
    const source = sourceOf([insert(1), insert(2), insert(3), insert(4), insert(5), insert(6)]);
    const { built, metrics } = deps(store, source, { send: async (records) => void sent.push(...records) });

    const outcome = await relayStream(built, stream, limits, budget(100));

    expect(outcome).toEqual({ status: 'lease-lost', events: 2 });
    expect(sent).toHaveLength(4); // the batch whose checkpoint was rejected went out; nothing after it
    expect(metrics.total('LeaseLost')).toBe(1);
  });

  it('numbers events sharing a cluster time (one transaction) across batches', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 't' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    const sameTime = (n: number) => ({ ...insert(n), clusterTime: new Timestamp({ t: 1_800_000_000, i: 77 }) }) as ChangeStreamDocument;
    const sent: OutgoingRecord[] = [];
    const { built } = deps(store, sourceOf([sameTime(1), sameTime(2), sameTime(3)]), { send: async (records) => void sent.push(...records) });

    await relayStream(built, stream, limits, budget(10));

    expect(sent.map((record) => record.headers['cdc-version'])).toEqual([
      '6b49d200-0000004d-00000000',
      '6b49d200-0000004d-00000001',
      '6b49d200-0000004d-00000002',
    ]);
    expect(store.saves.at(-1)?.lastEvent).toEqual({ seconds: 1_800_000_000, increment: 77, ordinal: 2 });
  });
});
