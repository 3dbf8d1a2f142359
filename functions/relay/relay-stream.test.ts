import { BSON, type ChangeStreamDocument, type MongoClient, MongoServerError, type ResumeToken, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from '../../shared/errors';
import { RecordingMetrics } from '../../shared/metrics';
import { type DecodedChangeEvent, decodeRecord, FORMAT_VERSION } from '../../shared/record-format';
import { positionKey } from '../../shared/stream-position';
import { RecordingLogger } from '../../test/support/recording-logger';
import type { ChangeSource } from './change-source';
import type { Checkpoint, CheckpointStore, CheckpointUpdate, Lease } from './checkpoint-store';
import type { OutgoingRecord, RecordProducer } from './record-producer';
import { streamSchema } from './relay-config';
import { type RelayDeps, relayStream } from './relay-stream';
import { relayDeps } from './relay-wiring';

/** In-memory stand-ins for the adapters, for the relay's decisions alone; the adapters have integration tests. */
class MemoryStore implements CheckpointStore {
  checkpoint: Checkpoint | undefined;
  saves: CheckpointUpdate[] = [];
  stalled: { code: string; reason: string } | undefined;
  loseLeaseAfterSaves = Number.POSITIVE_INFINITY;

  async acquireLease(streamId: string, owner: string): Promise<Lease | undefined> {
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
  stopped: string | undefined;
  async markStopped(_lease: Lease, reason: string): Promise<void> {
    this.stopped = reason;
  }
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
      // The source hands out events as the server sends them: BSON bytes.
      return step ? Buffer.from(BSON.serialize(step)) : null;
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

  it('stops producing once a checkpoint save finds the lease lost: only the batch produced beside that save follows it', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 'token-0' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    store.loseLeaseAfterSaves = 1;
    const sent: OutgoingRecord[] = [];
    const source = sourceOf([insert(1), insert(2), insert(3), insert(4), insert(5), insert(6)]);
    const { built, metrics } = deps(store, source, { send: async (records) => void sent.push(...records) });

    const outcome = await relayStream(built, stream, limits, budget(100));

    expect(outcome).toEqual({ status: 'lease-lost', events: 2 });
    // Batch 2's checkpoint was rejected while batch 3 was being produced beside it; nothing after batch 3 went out.
    expect(sent).toHaveLength(6);
    expect(store.saves).toHaveLength(1);
    expect(metrics.total('LeaseLost')).toBe(1);
  });

  it("runs a batch's checkpoint save beside the next batch's produce, each save after its own batch's acknowledgement, one at a time", async () => {
    const steps: string[] = [];
    let saving = 0;
    class SlowStore extends MemoryStore {
      override async save(lease: Lease, update: CheckpointUpdate): Promise<void> {
        expect(saving).toBe(0); // never two saves at once
        saving++;
        steps.push(`save ${update.eventsAdded}@${(update.resume as { token: { _data: string } }).token._data} begins`);
        // Held until the next produce has begun, or for a turn of the event loop when nothing follows.
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        await super.save(lease, update);
        steps.push(`save ${update.eventsAdded}@${(update.resume as { token: { _data: string } }).token._data} ends`);
        saving--;
      }
    }
    const store = new SlowStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 'token-0' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    const source = sourceOf([insert(1), insert(2), insert(3), insert(4), insert(5), insert(6)]);
    const { built } = deps(store, source, {
      send: async (records) => {
        const keys = records.map((record) => record.key.toString()).join(',');
        steps.push(`send ${keys} begins`);
        await new Promise((resolve) => setImmediate(resolve));
        steps.push(`send ${keys} acknowledged`);
      },
    });

    const outcome = await relayStream(built, stream, limits, budget(100));

    expect(outcome).toMatchObject({ status: 'relayed', events: 6, batches: 3, checkpoints: 3 });
    const at = (step: string) => {
      const index = steps.findIndex((entry) => entry.startsWith(step));
      expect(index, step).toBeGreaterThanOrEqual(0);
      return index;
    };
    const sends = steps.filter((step) => step.endsWith('begins') && step.startsWith('send'));
    expect(sends).toHaveLength(3);
    for (const [batch, token] of [
      [0, 'token-2'],
      [1, 'token-4'],
      [2, 'token-6'],
    ] as const) {
      const sendAck = steps.findIndex((step, index) => index > steps.indexOf(sends[batch] as string) && step.endsWith('acknowledged'));
      // The checkpoint moves past a batch only after Kafka acknowledged it...
      expect(at(`save 2@${token} begins`)).toBeGreaterThan(sendAck);
      // ...and the next batch is produced while that save is still running.
      if (batch < 2) expect(steps.indexOf(sends[batch + 1] as string)).toBeLessThan(at(`save 2@${token} ends`));
    }
    expect(store.saves.map((save) => (save.resume as { token: { _data: string } }).token._data)).toEqual(['token-2', 'token-4', 'token-6']);
  });

  it('numbers events sharing a cluster time (one transaction) across batches', async () => {
    const store = new MemoryStore();
    store.checkpoint = { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 't' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
    const sameTime = (n: number) => ({ ...insert(n), clusterTime: new Timestamp({ t: 1_800_000_000, i: 77 }) }) as ChangeStreamDocument;
    const sent: OutgoingRecord[] = [];
    const { built } = deps(store, sourceOf([sameTime(1), sameTime(2), sameTime(3)]), { send: async (records) => void sent.push(...records) });

    await relayStream(built, stream, limits, budget(10));

    expect(sent.map((record) => positionKey((decodeRecord(record) as DecodedChangeEvent).version))).toEqual([
      '6b49d200-0000004d-00000000',
      '6b49d200-0000004d-00000001',
      '6b49d200-0000004d-00000002',
    ]);
    expect(store.saves.at(-1)?.lastEvent).toEqual({ seconds: 1_800_000_000, increment: 77, ordinal: 2 });
  });

  it('follows a delete with a tombstone carrying the format header when tombstones are on', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const deleted = { ...insert(1), operationType: 'delete', fullDocument: undefined } as unknown as ChangeStreamDocument;
    const sent: OutgoingRecord[] = [];
    const { built } = deps(store, sourceOf([deleted]), { send: async (records) => void sent.push(...records) });

    await relayStream(built, { ...stream, tombstones: true }, limits, budget(5));

    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ topic: 'mongo-cdc.shop.orders', value: null, headers: { 'cdc-format': String(FORMAT_VERSION) } });
    expect(sent[1]?.key).toEqual(sent[0]?.key);
  });

  it('dead-letters an event it cannot encode with the reason and its resume token, and goes on past it', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const broken = { ...insert(1), clusterTime: undefined } as unknown as ChangeStreamDocument;
    const sent: OutgoingRecord[] = [];
    const { built, metrics, logger } = deps(store, sourceOf([broken, insert(2)]), { send: async (records) => void sent.push(...records) });

    const outcome = await relayStream(built, stream, limits, budget(5));

    expect(outcome).toMatchObject({ status: 'relayed', events: 2, deadLettered: 1 });
    expect(sent.map((record) => record.topic)).toEqual(['mongo-cdc.dead-letter', 'mongo-cdc.shop.orders']);
    expect(sent[0]?.headers).toMatchObject({ 'cdc-dlq-code': 'RECORD_MALFORMED' });
    expect(String(sent[0]?.value)).toMatch(/no clusterTime/);
    expect(String(sent[0]?.value)).toMatch(/token-1/);
    expect(metrics.total('EventsDeadLettered')).toBe(1);
    expect(logger.named('relay.event-dead-lettered')).toHaveLength(1);
    expect(store.saves.at(-1)?.resume).toEqual({ kind: 'resumeAfter', token: { _data: 'token-2' } });
  });

  it('stops on an invalidate without clusterTime (the stand-in after a drop) instead of failing every invocation', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const invalidate = { _id: { _data: 'token-inv' }, operationType: 'invalidate' } as unknown as ChangeStreamDocument;
    const sent: OutgoingRecord[] = [];
    const { built } = deps(store, sourceOf([insert(1), invalidate]), { send: async (records) => void sent.push(...records) });

    const outcome = await relayStream(built, stream, limits, budget(5));

    expect(outcome).toEqual({ status: 'stopped', reason: 'invalidated' });
    expect(store.stopped).toMatch(/invalidated/);
    expect(sent.map((record) => record.topic)).toEqual(['mongo-cdc.shop.orders', 'mongo-cdc.dead-letter']);
    expect(store.saves.at(-1)).toMatchObject({ resume: { kind: 'startAfter', token: { _data: 'token-inv' } }, lastEvent: { increment: 1 } });
  });

  it('continues after an invalidate with startAfter its token when configured to', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const invalidate = { ...insert(2), _id: { _data: 'token-inv' }, operationType: 'invalidate', documentKey: undefined, fullDocument: undefined } as unknown as ChangeStreamDocument;
    const opened: unknown[] = [];
    const sources = [sourceOf([insert(1), invalidate]), sourceOf([insert(3)])];
    const sent: OutgoingRecord[] = [];
    const { built, metrics } = deps(store, sources[0] as ChangeSource, { send: async (records) => void sent.push(...records) });
    const withReopen: RelayDeps = {
      ...built,
      openSource: (resume) => {
        opened.push(resume);
        return sources.shift() as ChangeSource;
      },
    };

    const outcome = await relayStream(withReopen, { ...stream, onInvalidate: 'continue' }, limits, budget(10));

    expect(outcome).toMatchObject({ status: 'relayed', events: 3 });
    expect(opened).toEqual([resumable().resume, { kind: 'startAfter', token: { _data: 'token-inv' } }]);
    expect(store.stopped).toBeUndefined();
    expect(metrics.total('StreamInvalidated')).toBe(1);
    expect(store.saves.at(-1)?.resume).toEqual({ kind: 'resumeAfter', token: { _data: 'token-3' } });
  });

  it('saves the server\'s newer token on a quiet stream once the idle interval has passed, and only when it moved', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    let clock = 0;
    const tokens = [{ _data: 'pbrt-1' }, { _data: 'pbrt-1' }, { _data: 'pbrt-2' }, { _data: 'pbrt-2' }];
    let current: ResumeToken | undefined;
    const quiet: ChangeSource = {
      async tryNext() {
        current = tokens.shift() ?? current;
        clock += 1_000;
        return null;
      },
      get resumeToken() {
        return current;
      },
      async close() {},
    };
    const { built, logger } = deps(store, quiet, { send: async () => undefined });

    await relayStream({ ...built, now: () => clock }, stream, { ...limits, idleCheckpointMs: 1_000 }, budget(12));

    expect(store.saves.map((save) => [save.resume, save.eventsAdded])).toEqual([
      [{ kind: 'resumeAfter', token: { _data: 'pbrt-1' } }, 0],
      [{ kind: 'resumeAfter', token: { _data: 'pbrt-2' } }, 0],
    ]);
    expect(logger.named('relay.idle-checkpoint')).toHaveLength(2);
  });

  it('keeps a quiet stream\'s token for the end of the invocation while the idle interval has not passed', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const quiet: ChangeSource = { tryNext: async () => null, resumeToken: { _data: 'pbrt-9' }, close: async () => undefined };
    const { built } = deps(store, quiet, { send: async () => undefined });

    await relayStream({ ...built, now: () => 0 }, stream, limits, budget(3));

    expect(store.saves).toEqual([{ resume: { kind: 'resumeAfter', token: { _data: 'pbrt-9' } }, eventsAdded: 0, leaseExpiresAt: expect.any(Number) }]);
  });
});

function resumable(): Checkpoint {
  return { streamId: 'orders', resume: { kind: 'resumeAfter', token: { _data: 'token-0' } }, eventsRelayed: 0, gaps: [], replays: [], updatedAt: 'x' };
}

describe('relayStream on an unreadable checkpoint', () => {
  it('stalls the stream with CHECKPOINT_CONFLICT instead of restarting it from now', async () => {
    const store = new MemoryStore();
    store.read = async () => {
      throw new CdcError('CHECKPOINT_CONFLICT', 'checkpoint resume point cannot be decoded: unknown resumeKind "nowish"');
    };
    const sent: OutgoingRecord[] = [];
    const { built, metrics } = deps(store, sourceOf([insert(1)]), { send: async (records) => void sent.push(...records) });

    const outcome = await relayStream(built, stream, limits, budget(5));

    expect(outcome).toMatchObject({ status: 'stalled', code: 'CHECKPOINT_CONFLICT' });
    expect(store.stalled?.code).toBe('CHECKPOINT_CONFLICT');
    expect(store.saves).toHaveLength(0);
    expect(sent).toHaveLength(0);
    expect(metrics.total('StreamStalled')).toBe(1);
  });

  it('fails with MONGO_FATAL, the driver error as cause, when MongoDB refuses the change stream', async () => {
    const store = new MemoryStore();
    store.checkpoint = resumable();
    const denied = new MongoServerError({ code: 13, codeName: 'Unauthorized', errmsg: 'not authorized' });
    const { built, metrics } = deps(store, sourceOf([denied]), { send: async () => undefined });

    await expect(relayStream(built, stream, limits, budget(5))).rejects.toMatchObject({ code: 'MONGO_FATAL', cause: denied });
    expect(metrics.total('MongoErrors')).toBe(1);
  });
});

describe('relay wiring', () => {
  it('never connects to Kafka when the lease is held or the stream is stalled', async () => {
    let producerAsked = 0;
    const producer = async () => {
      producerAsked++;
      throw new Error('Kafka must not be touched');
    };
    const held = new MemoryStore();
    held.acquireLease = async () => undefined;
    const stalledStore = new MemoryStore();
    stalledStore.checkpoint = { ...resumable(), stalled: { code: 'CHANGE_STREAM_HISTORY_LOST', reason: 'gone', at: 'x' } };

    for (const store of [held, stalledStore]) {
      const built = relayDeps({
        store,
        producer,
        // Never reached: both invocations end before a change stream is opened.
        mongo: {} as MongoClient,
        stream,
        maxRequestBytes: 1_000_000,
        logger: new RecordingLogger(),
        metrics: new RecordingMetrics(),
      });
      expect((await relayStream(built, stream, limits, budget(5))).status).toMatch(/lease-held|stalled/);
    }

    expect(producerAsked).toBe(0);
  });
});
