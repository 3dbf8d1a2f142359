import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { CdcError } from '../../shared/errors';
import { decodeRecord } from '../../shared/record-format';
import { readAllRecords } from '../../test/support/local-clients';
import { RelayHarness } from '../../test/support/relay-harness';
import { SwitchableProxy } from '../../test/support/switchable-proxy';
import { createServedTopics } from '../../test/support/test-topics';
import { uniqueName } from '../../test/support/unique-name';
import { ReadThread, readWorkerEntry } from './read-thread';
import type { RecordProducer } from './record-producer';

/**
 * The relay's read thread against the real stand-in: what happens when the thread's own MongoDB connection fails, or
 * the thread itself stops, in the middle of an invocation. Whatever the thread read, nothing is checkpointed past
 * what Kafka acknowledged, the failure is named, and the next invocation relays the rest.
 */
describe('relay: read thread failures', () => {
  const harness = new RelayHarness();
  const EVENTS = 500;

  beforeAll(async () => {
    await harness.setUp();
  });
  afterAll(async () => {
    await harness.tearDown();
  });

  function threadTo(port?: number): ReadThread {
    const entry = readWorkerEntry();
    if (!entry) throw new Error('the read thread module is missing');
    const uri = new URL(endpoints.mongodbUri());
    if (port !== undefined) uri.port = String(port);
    return new ReadThread(uri.toString(), entry);
  }

  /** A stream of small batches with EVENTS inserts waiting, its start point fixed before they were written. */
  async function streamWithBacklog(name: string) {
    const db = uniqueName(name);
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), batch: { maxEvents: 100 } });
    const topic = `${stream.topicPrefix}.${db}.items`;
    await createServedTopics(harness.kafka, [topic]);
    await harness.run(stream, 1_500);
    await harness.mongo
      .db(db)
      .collection('items')
      .insertMany(Array.from({ length: EVENTS }, (_, index) => ({ _id: index }) as Document));
    return { stream, topic };
  }

  /** After the first batch Kafka acknowledged, `then` runs (once). */
  const afterFirstSend =
    (then: () => void | Promise<void>) =>
    (producer: RecordProducer): RecordProducer => {
      let sent = false;
      return {
        async send(records) {
          await producer.send(records);
          if (!sent) {
            sent = true;
            await then();
          }
        },
      };
    };

  async function relayedIds(topic: string): Promise<number[]> {
    return (await readAllRecords(harness.kafka, [topic])).map((record) => {
      const decoded = decodeRecord({ key: record.key, value: record.value });
      if (decoded.tombstone) throw new Error('no tombstones expected');
      return Number((decoded.event as unknown as { documentKey: { _id: unknown } }).documentKey._id);
    });
  }

  it("names a failure of the thread's MongoDB connection, checkpoints nothing past Kafka, and the same thread relays the rest", async () => {
    // Prepare
    const proxy = await new SwitchableProxy('127.0.0.1', Number(new URL(endpoints.mongodbUri()).port)).listen();
    proxy.enable();
    const thread = threadTo(proxy.port);
    const { stream, topic } = await streamWithBacklog('read-thread-cut');
    try {
      // Act: the thread's connection is cut while it reads ahead of the first batch's produce.
      const failed = await harness
        .run(stream, 60_000, { readThread: thread, wrapProducer: afterFirstSend(() => proxy.disable()) })
        .catch((error: unknown) => error);
      const during = await harness.store.read(stream.id);
      const inKafka = await relayedIds(topic);
      proxy.enable();
      const recovered = await harness.run(stream, 8_000, { readThread: thread });

      // Assess
      expect(failed).toBeInstanceOf(CdcError);
      expect((failed as CdcError).code).toBe('MONGO_UNAVAILABLE');
      const checkpointed = during?.eventsRelayed ?? 0;
      expect(checkpointed).toBeGreaterThan(0);
      expect(checkpointed).toBeLessThan(EVENTS);
      // Every event the checkpoint counts was acknowledged by Kafka (inserts arrive in _id order).
      for (let id = 0; id < checkpointed; id++) expect(inKafka).toContain(id);
      expect(recovered.outcome).toMatchObject({ status: 'relayed' });
      expect(recovered.logger.named('relay.start')[0]).toMatchObject({ readThread: 'worker' });
      expect(new Set(await relayedIds(topic))).toEqual(new Set(Array.from({ length: EVENTS }, (_, index) => index)));
    } finally {
      await thread.close();
      await proxy.close();
    }
  }, 180_000);

  it('names a read thread that stopped mid-invocation (READ_THREAD_FAILED); the next invocation starts a new one', async () => {
    // Prepare
    const thread = threadTo();
    const { stream, topic } = await streamWithBacklog('read-thread-stop');
    try {
      // Act: the thread is stopped while it reads the batch after the first.
      const failed = await harness
        .run(stream, 60_000, { readThread: thread, wrapProducer: afterFirstSend(() => thread.close()) })
        .catch((error: unknown) => error);
      const during = await harness.store.read(stream.id);
      const inKafka = await relayedIds(topic);
      const recovered = await harness.run(stream, 10_000, { readThread: thread });

      // Assess
      expect(failed).toBeInstanceOf(CdcError);
      expect((failed as CdcError).code).toBe('READ_THREAD_FAILED');
      const checkpointed = during?.eventsRelayed ?? 0;
      expect(checkpointed).toBeLessThan(EVENTS);
      for (let id = 0; id < checkpointed; id++) expect(inKafka).toContain(id);
      expect(recovered.outcome).toMatchObject({ status: 'relayed', events: EVENTS - checkpointed });
      expect(recovered.logger.named('relay.start')[0]).toMatchObject({ readThread: 'worker' });
      expect(new Set(await relayedIds(topic))).toEqual(new Set(Array.from({ length: EVENTS }, (_, index) => index)));
    } finally {
      await thread.close();
    }
  }, 180_000);
});
