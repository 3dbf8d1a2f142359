import {
  Binary,
  BSON,
  BSONRegExp,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  type Document,
} from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { external } from '../../infra/stack/endpoints';
import { stackUp, stackDown } from '../../infra/stack/stack';
import { CdcError } from '../../shared/errors';
import type { Checkpoint } from './checkpoint-store';
import { decodeRecord } from '../../shared/record-format';
import { comparePositions } from '../../shared/stream-position';
import { readAllRecords, type ReadRecord } from '../../test/support/local-clients';
import { RelayHarness } from '../../test/support/relay-harness';
import { uniqueName } from '../../test/support/unique-name';
import { createServedTopics } from '../../test/support/test-topics';

const canonical = (value: unknown) => BSON.EJSON.stringify(value, { relaxed: false });

function decodeAll(records: ReadRecord[]) {
  return records.map((record) => {
    const decoded = decodeRecord({ key: record.key, value: record.value });
    if (decoded.tombstone) throw new Error('no tombstones expected here');
    return decoded;
  });
}

/** One of every BSON type the contract promises to carry exactly, plus awkward names and text. */
function richDocument(id: number, binarySubtypes: readonly number[]): Document {
  return {
    _id: id,
    decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
    int64max: Long.MAX_VALUE,
    int64min: Long.MIN_VALUE,
    int32: new Int32(-42),
    negativeZero: new Double(-0),
    notANumber: new Double(Number.NaN),
    infinity: new Double(Number.POSITIVE_INFINITY),
    date: new Date('1969-07-20T20:17:40.123Z'),
    binaries: binarySubtypes.map((subtype) => new Binary(Buffer.alloc(16, subtype), subtype)),
    objectId: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'),
    timestamp: new Timestamp({ t: 1_700_000_000, i: 7 }),
    regex: new BSONRegExp('^caf[eé]$', 'imsux'.split('').sort().join('')),
    min: new MinKey(),
    max: new MaxKey(),
    nested: [[1, [2, [3, { deep: [new Int32(4)] }]]], { list: [] }, {}],
    'dotted.name': 'dots',
    unicode: 'emoji 🚀, CJK 漢字, combining é, RTL שלום',
    empty: '',
  };
}

describe('relay: change stream semantics (invalidate, history lost, quiet streams, scopes)', () => {
  const harness = new RelayHarness();

  beforeAll(async () => {
    await harness.setUp();
  });
  afterAll(async () => {
    await harness.tearDown();
  });

  const operations = (records: ReadRecord[]) => decodeAll(records).map((record) => record.event.operationType);

  /**
   * Creates the topics a test reads, before the relay produces to them, so no test races topic auto-creation. One
   * partition each: events without a documentKey (drop, invalidate) have no key to keep them in order with the rest.
   */
  async function createTopics(...topics: string[]): Promise<void> {
    await createServedTopics(harness.kafka, topics);
  }

  /** The saved resume token's _data, or undefined when the checkpoint holds no token. */
  const savedToken = (checkpoint: Checkpoint | undefined) => (checkpoint?.resume.kind === 'resumeAfter' ? String((checkpoint.resume.token as { _data?: unknown })._data) : undefined);

  it('publishes an invalidate when the watched collection is dropped, then stops', async () => {
    // Prepare
    const db = uniqueName('relay-invalidate');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    await createTopics(`${stream.topicPrefix}.${db}.items`);
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    await collection.insertOne({ _id: 1 } as Document);
    await collection.drop();

    // Act
    const { outcome } = await harness.run(stream, 5_000);

    // Assess
    expect(outcome).toEqual({ status: 'stopped', reason: 'invalidated' });
    expect(operations(await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`]))).toEqual(['insert', 'drop', 'invalidate']);
    expect((await harness.store.read(stream.id))?.resume.kind).toBe('startAfter');
  });

  it('with onInvalidate: continue, publishes the invalidate and carries on with the recreated collection', async () => {
    // Prepare
    const db = uniqueName('relay-continue');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), onInvalidate: 'continue' });
    await createTopics(`${stream.topicPrefix}.${db}.items`);
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    await collection.insertOne({ _id: 'before' } as Document);
    await collection.drop();
    await collection.insertOne({ _id: 'after' } as Document);

    // Act
    const { outcome, logger, metrics } = await harness.run(stream, 6_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 4 });
    const records = decodeAll(await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`]));
    expect(records.map((record) => [record.event.operationType, (record.event as { documentKey?: unknown }).documentKey])).toEqual([
      ['insert', { _id: 'before' }],
      ['drop', undefined],
      ['invalidate', undefined],
      ['insert', { _id: 'after' }],
    ]);
    expect(metrics.total('StreamInvalidated')).toBe(1);
    expect(logger.named('relay.invalidated')[0]).toMatchObject({ action: 'continue with startAfter' });
    expect((await harness.store.read(stream.id))?.resume.kind).toBe('resumeAfter');
  });

  it('marks the stream stalled when its resume point has left the oplog; a reset records the gap and relays again', async () => {
    // Prepare: a start time long before this server's oplog begins.
    const db = uniqueName('relay-lost');
    const lost = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), startAt: '2017-01-01T00:00:00Z' });
    await createTopics(`${lost.topicPrefix}.${db}.items`);

    // Act
    const stalled = await harness.run(lost, 5_000);
    const stalledCheckpoint = await harness.store.read(lost.id);
    await harness.store.reset(lost.id, { kind: 'now' }, 'conformance-test', new Date());
    await harness.run(lost, 1_500); // fixes the new starting point
    await harness.mongo.db(db).collection('items').insertOne({ _id: 'after-reset' } as Document);
    const resumed = await harness.run(lost, 4_000);

    // Assess
    expect(stalled.outcome).toMatchObject({ status: 'stalled', code: 'CHANGE_STREAM_HISTORY_LOST' });
    expect(stalled.metrics.total('StreamStalled')).toBe(1);
    expect(stalledCheckpoint?.stalled?.code).toBe('CHANGE_STREAM_HISTORY_LOST');
    expect(resumed.outcome).toMatchObject({ status: 'relayed', events: 1 });
    const checkpoint = await harness.store.read(lost.id);
    expect(checkpoint?.stalled).toBeUndefined();
    expect(checkpoint?.gaps).toEqual([expect.objectContaining({ by: 'conformance-test', to: expect.any(String) })]);
  });

  it('saves an advancing checkpoint on a quiet stream, from which the next run resumes exactly', async () => {
    // Prepare
    const db = uniqueName('relay-quiet');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    await createTopics(`${stream.topicPrefix}.${db}.items`);
    await harness.run(stream, 1_500);
    const first = await harness.store.read(stream.id);

    // Act: runs with no writes until the saved token moves (an idle replica set advances its clock every 10 s).
    let idle: Awaited<ReturnType<RelayHarness['run']>> | undefined;
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline) {
      idle = await harness.run(stream, 3_000, { limits: { idleCheckpointMs: 300 } });
      if (savedToken(await harness.store.read(stream.id)) !== savedToken(first)) break;
    }
    const quiet = await harness.store.read(stream.id);
    await harness.mongo.db(db).collection('items').insertOne({ _id: 'next' } as Document);
    const next = await harness.run(stream, 4_000);

    // Assess
    expect(first?.resume.kind).toBe('resumeAfter');
    expect(quiet?.resume.kind).toBe('resumeAfter');
    expect(savedToken(quiet)! > savedToken(first)!).toBe(true);
    expect(idle?.outcome).toMatchObject({ status: 'relayed', events: 0 });
    expect(quiet?.eventsRelayed).toBe(0);
    expect(next.outcome).toMatchObject({ status: 'relayed', events: 1 });
  });

  it('relays a whole database with an exclude filter and a topic override, each event on its namespace\'s topic', async () => {
    // Prepare
    const db = uniqueName('relay-db');
    const prefix = uniqueName('t');
    const override = uniqueName('special');
    const stream = harness.stream({ database: db, topicPrefix: prefix, excludeNamespaces: [`${db}.skipped`], topics: { [`${db}.special`]: override } });
    await createTopics(`${prefix}.${db}.a`, `${prefix}.${db}.b`, override);
    await harness.run(stream, 1_500);
    for (const coll of ['a', 'b', 'skipped', 'special']) await harness.mongo.db(db).collection(coll).insertOne({ _id: coll } as Document);

    // Act
    const { outcome } = await harness.run(stream, 5_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 3 });
    const records = await readAllRecords(harness.kafka, [`${prefix}.${db}.a`, `${prefix}.${db}.b`, override]);
    expect(records.map((record) => [record.topic, decodeAll([record])[0]!.documentKeyJson]).sort()).toEqual(
      [
        [`${prefix}.${db}.a`, canonical({ _id: 'a' })],
        [`${prefix}.${db}.b`, canonical({ _id: 'b' })],
        [override, canonical({ _id: 'special' })],
      ].sort(),
    );
  });

  it('relays the whole deployment through an include filter, routing each database to its own topics', async () => {
    // Prepare
    const first = uniqueName('relay-all-a');
    const second = uniqueName('relay-all-b');
    const prefix = uniqueName('t');
    const stream = harness.stream({ topicPrefix: prefix, includeNamespaces: [first, `${second}.kept`] });
    await createTopics(`${prefix}.${first}.x`, `${prefix}.${second}.kept`);
    await harness.run(stream, 1_500);
    await harness.mongo.db(first).collection('x').insertOne({ _id: 1 } as Document);
    await harness.mongo.db(second).collection('kept').insertOne({ _id: 2 } as Document);
    await harness.mongo.db(second).collection('other').insertOne({ _id: 3 } as Document);
    await harness.mongo.db(uniqueName('relay-all-c')).collection('x').insertOne({ _id: 4 } as Document);

    // Act
    const { outcome } = await harness.run(stream, 5_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 2 });
    const records = await readAllRecords(harness.kafka, [`${prefix}.${first}.x`, `${prefix}.${second}.kept`]);
    expect(records.map((record) => [record.topic, (decodeAll([record])[0]!.event as Document).ns]).sort()).toEqual(
      [
        [`${prefix}.${first}.x`, { db: first, coll: 'x' }],
        [`${prefix}.${second}.kept`, { db: second, coll: 'kept' }],
      ].sort(),
    );
  });

  it('relays an update whose document was deleted before the lookup with fullDocument: null', async () => {
    // Prepare
    const db = uniqueName('relay-lookup');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), fullDocument: 'updateLookup' });
    await createTopics(`${stream.topicPrefix}.${db}.items`);
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    await collection.insertOne({ _id: 1, n: 0 } as Document);
    await collection.updateOne({ _id: 1 } as Document, { $set: { n: 1 } });
    await collection.deleteOne({ _id: 1 } as Document);

    // Act
    const { outcome } = await harness.run(stream, 4_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 3 });
    const events = decodeAll(await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`])).map((record) => record.event as Document);
    expect(events.map((event) => event.operationType)).toEqual(['insert', 'update', 'delete']);
    expect(events[1]).toMatchObject({ fullDocument: null, updateDescription: { updatedFields: { n: expect.anything() }, removedFields: [] } });
  });
});

// Last: its Kafka outage test restarts the broker, which a loaded machine may take a while to settle.
describe('relay against real services', () => {
  const harness = new RelayHarness();

  beforeAll(async () => {
    await harness.setUp();
  });
  afterAll(async () => {
    await harness.tearDown();
  });

  it('delivers every event in commit order per document, every BSON type intact', async () => {
    // Prepare
    const db = uniqueName('relay-order');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    const topic = `${stream.topicPrefix}.${db}.items`;
    await harness.run(stream, 1_500); // fixes the stream's starting point
    const collection = harness.mongo.db(db).collection('items');
    const subtypes = [0, 1, 2, 3, 4, 5, 6, 7, 0x80];
    const expected = new Map<string, string[]>();
    for (let round = 0; round < 3; round++) {
      for (let id = 0; id < 20; id++) {
        await collection.insertOne(richDocument(id, subtypes));
        await collection.deleteOne({ _id: id } as Document);
        const key = canonical({ _id: id });
        expected.set(key, [...(expected.get(key) ?? []), 'insert', 'delete']);
      }
    }
    await collection.insertOne(richDocument(1000, subtypes));
    const stored = await collection.findOne({ _id: 1000 } as Document, { promoteValues: false, bsonRegExp: true });

    // Act
    const { outcome, logger, metrics } = await harness.run(stream, 6_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 121 });
    const decoded = decodeAll(await readAllRecords(harness.kafka, [topic]));
    expect(decoded).toHaveLength(121);
    const byDocument = new Map<string, typeof decoded>();
    for (const record of decoded) byDocument.set(record.documentKeyJson, [...(byDocument.get(record.documentKeyJson) ?? []), record]);
    for (const [key, operations] of expected) {
      const records = byDocument.get(key) ?? [];
      expect(records.map((record) => record.event.operationType)).toEqual(operations);
      for (let index = 1; index < records.length; index++) {
        expect(comparePositions(records[index - 1]!.version, records[index]!.version)).toBe(-1);
      }
    }
    const rich = byDocument.get(canonical({ _id: 1000 }))?.[0]?.event as { fullDocument?: Document } | undefined;
    expect(canonical(rich?.fullDocument)).toBe(canonical(stored));
    expect(Object.is((rich?.fullDocument?.negativeZero as Double | number | undefined)?.valueOf(), -0)).toBe(true);
    expect(metrics.total('EventsRelayed')).toBe(121);
    expect(logger.named('relay.batch').length).toBeGreaterThan(0);
    expect(logger.named('relay.batch')[0]).toMatchObject({ streamId: stream.id, events: expect.any(Number), bytes: expect.any(Number), produceMs: expect.any(Number), checkpointMs: expect.any(Number) });
  });

  it('resumes after a restart with nothing lost and nothing repeated', async () => {
    // Prepare
    const db = uniqueName('relay-restart');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    const topic = `${stream.topicPrefix}.${db}.items`;
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    await collection.insertMany(Array.from({ length: 150 }, (_, index) => ({ _id: index, n: index }) as Document));
    const first = await harness.run(stream, 4_000);
    await harness.resetProducer(); // a new container: new producer session, same checkpoint
    await collection.insertMany(Array.from({ length: 150 }, (_, index) => ({ _id: 150 + index, n: 150 + index }) as Document));

    // Act
    const second = await harness.run(stream, 4_000);

    // Assess
    expect(first.outcome).toMatchObject({ status: 'relayed', events: 150 });
    expect(second.outcome).toMatchObject({ status: 'relayed', events: 150 });
    const ids = decodeAll(await readAllRecords(harness.kafka, [topic])).map((record) => Number((record.event as unknown as { documentKey: { _id: unknown } }).documentKey._id));
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, index) => index));
  });

  it('lets exactly one of two concurrent invocations relay, with no duplicates', async () => {
    // Prepare
    const db = uniqueName('relay-concurrent');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    const topic = `${stream.topicPrefix}.${db}.items`;
    await harness.run(stream, 1_500);
    await harness.mongo.db(db).collection('items').insertMany(Array.from({ length: 200 }, (_, index) => ({ _id: index }) as Document));

    // Act
    const [a, b] = await Promise.all([harness.run(stream, 4_000, { owner: 'a' }), harness.run(stream, 4_000, { owner: 'b' })]);

    // Assess
    const statuses = [a.outcome.status, b.outcome.status].sort();
    expect(statuses).toEqual(['lease-held', 'relayed']);
    const held = [a, b].find((run) => run.outcome.status === 'lease-held');
    expect(held?.metrics.published('LeaseHeld')).toBe(1);
    expect(held?.logger.named('relay.lease-held')).toHaveLength(1);
    expect(await readAllRecords(harness.kafka, [topic])).toHaveLength(200);
  });

  it('returns before its deadline with the checkpoint saved, while writes keep coming', async () => {
    // Prepare
    const db = uniqueName('relay-budget');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) await collection.insertOne({ n: written++ });
    })();

    // Act
    const budgetMs = 4_000;
    const run = await harness.run(stream, budgetMs, { limits: { safetyMarginMs: 1_000 } });
    writing = false;
    await writer;

    // Assess
    expect(run.elapsedMs).toBeLessThan(budgetMs);
    expect(run.outcome.status).toBe('relayed');
    const checkpoint = await harness.store.read(stream.id);
    expect(checkpoint?.resume.kind).toBe('resumeAfter');
    expect(checkpoint?.eventsRelayed).toBe(run.outcome.status === 'relayed' ? run.outcome.events : -1);
    expect(checkpoint?.lease).toBeUndefined();
  });

  it.each(['dlq', 'trim'] as const)('never drops an event larger than Kafka accepts (policy %s)', async (policy) => {
    // Prepare
    const db = uniqueName('relay-oversize');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), oversize: policy });
    const topic = `${stream.topicPrefix}.${db}.items`;
    const deadLetterTopic = `${stream.topicPrefix}.dead-letter`;
    await harness.run(stream, 1_500);
    const collection = harness.mongo.db(db).collection('items');
    await collection.insertOne({ _id: 'small', text: 'fine' } as Document);
    await collection.insertOne({ _id: 'huge', text: 'x'.repeat(1_200_000) } as Document);
    await collection.insertOne({ _id: 'after', text: 'fine too' } as Document);

    // Act
    const { outcome, metrics } = await harness.run(stream, 4_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 3 });
    // Different documents may sit on different partitions: compare which arrived, not their interleaving.
    const main = decodeAll(await readAllRecords(harness.kafka, [topic])).sort((a, b) => a.documentKeyJson.localeCompare(b.documentKeyJson));
    if (policy === 'dlq') {
      expect(main.map((record) => record.documentKeyJson)).toEqual([canonical({ _id: 'after' }), canonical({ _id: 'small' })]);
      const dead = await readAllRecords(harness.kafka, [deadLetterTopic]);
      expect(dead).toHaveLength(1);
      const metadata = BSON.EJSON.parse(String(dead[0]?.value)) as { code: string; size: number; documentKey: Document; reason: string };
      expect(metadata.code).toBe('RECORD_TOO_LARGE');
      expect(metadata.documentKey).toEqual({ _id: 'huge' });
      expect(metadata.size).toBeGreaterThan(1_200_000);
      expect(dead[0]?.headers['cdc-dlq-reason']).toContain('exceeds');
      expect(metrics.total('EventsDeadLettered')).toBe(1);
    } else {
      expect(main.map((record) => record.documentKeyJson)).toEqual(['after', 'huge', 'small'].map((id) => canonical({ _id: id })));
      const trimmed = main[1]!;
      expect(trimmed.trimmed).toBe(true);
      expect((trimmed.event as { fullDocument?: unknown }).fullDocument).toBeUndefined();
      expect(metrics.total('EventsTrimmed')).toBe(1);
    }
  });

  it.skipIf(external.kafka())('leaves the checkpoint unmoved while Kafka is down, and delivers everything once it is back', async () => {
    // Prepare
    const db = uniqueName('relay-outage');
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t') });
    const topic = `${stream.topicPrefix}.${db}.items`;
    await harness.run(stream, 1_500);
    await harness.mongo.db(db).collection('items').insertMany(Array.from({ length: 50 }, (_, index) => ({ _id: index }) as Document));
    const before = await harness.store.read(stream.id);
    await stackDown(() => undefined, ['kafka']);

    // Act
    let failure: unknown;
    try {
      await harness.run(stream, 20_000);
    } catch (error) {
      failure = error;
    } finally {
      await stackUp(() => undefined, ['kafka']);
    }
    const during = await harness.store.read(stream.id);
    const recovered = await harness.run(stream, 8_000);

    // Assess
    expect(failure).toBeInstanceOf(CdcError);
    expect((failure as CdcError).code).toBe('KAFKA_PRODUCE_FAILED');
    expect(during?.resume).toEqual(before?.resume);
    expect(during?.eventsRelayed).toBe(before?.eventsRelayed);
    expect(recovered.outcome).toMatchObject({ status: 'relayed', events: 50 });
    const ids = decodeAll(await readAllRecords(harness.kafka, [topic])).map((record) => Number((record.event as unknown as { documentKey: { _id: unknown } }).documentKey._id));
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: 50 }, (_, index) => index)));
  }, 180_000);
});
