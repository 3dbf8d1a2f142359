import {
  Binary,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  type Document,
} from 'mongodb';
import { withRead } from '../../test/support/chunk-reader-wrapper';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../shared/record-format';
import { readAllRecords, type ReadRecord } from '../../test/support/local-clients';
import { mongoKindUnderTest } from '../../test/support/mongo-under-test';
import { RelayHarness } from '../../test/support/relay-harness';
import { SinkHarness } from '../../test/support/sink-harness';
import { ReportingPair } from '../../test/support/store-equality';
import { uniqueName } from '../../test/support/unique-name';
import type { StreamConfig } from './relay-config';
import { chunkFilter, keyText } from './snapshot-plan';
import { decodeRecord } from '../../shared/record-format';
import type { SnapshotDeps } from './snapshot-step';

/** `_id`s of every type a user is likely to have, deliberately out of index order. */
async function mixedIds(): Promise<unknown[]> {
  const ids: unknown[] = [
    'b', 'a', 'zz', 'é',
    new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'), new ObjectId('5f1d7f1b9d1e8a3b2c4d5e70'), new ObjectId(),
    new Int32(3), Long.fromString('9007199254740993'), new Double(2.5), Decimal128.fromString('1.5'), new Int32(-7), new Double(1e300),
    { tenant: 'x', n: 1 }, { tenant: 'a', n: 2 }, { a: { nested: [1, 2] } },
    new Binary(Buffer.alloc(16, 1), 4), new Binary(Buffer.from('xy'), 0), new Binary(Buffer.from('abc'), 0),
    true, false,
    new Date(0), new Date('2030-01-01T00:00:00Z'),
    new MinKey(), new MaxKey(),
  ];
  // The stand-in stores a null _id but no query finds it; on MongoDB it is one more bracket.
  if ((await mongoKindUnderTest()) === 'real-mongod') ids.push(null);
  return ids;
}

/** Documents whose _id is any BSON value, as the tests write them. */
type AnyId = Document & { _id: unknown }; // the driver types _id as ObjectId unless told otherwise

/** The document a copy's record carries. */
function copiedDocument(record: { key: Buffer | null; value: Buffer | null }): Document {
  const decoded = decodeRecord({ key: record.key, value: record.value });
  if (decoded.tombstone) throw new Error('a copy is never a tombstone');
  return (decoded.event as unknown as { fullDocument: Document }).fullDocument;
}

const snapshotRecords = (records: ReadRecord[]) => records.filter((record) => record.headers[HEADERS.snapshot] !== undefined);
const liveRecords = (records: ReadRecord[]) => records.filter((record) => record.headers[HEADERS.snapshot] === undefined);

describe('snapshots against real services', () => {
  const harness = new RelayHarness();
  const sinks = new SinkHarness();

  beforeAll(async () => {
    await harness.setUp();
    await sinks.setUp();
    console.info(`snapshot tests run against ${await mongoKindUnderTest()}`);
  });
  afterAll(async () => {
    await sinks.tearDown();
    await harness.tearDown();
  });

  /** Runs the relay until the snapshot in progress finished, then once more so the live tail is in Kafka too. */
  async function runUntilSnapshotDone(
    stream: StreamConfig,
    options: Parameters<RelayHarness['run']>[2] = {},
    runs = 20,
    tolerate: (error: Error) => boolean = () => false,
  ) {
    for (let run = 0; run < runs; run++) {
      await harness.run(stream, 2_500, options).catch((error: Error) => {
        if (!tolerate(error)) throw error;
      });
      const record = await harness.snapshots.readSnapshots(stream.id);
      if (!record.running && !record.request && record.runs.length > 0) {
        await harness.run(stream, 1_500).catch((error: Error) => {
          if (!tolerate(error)) throw error;
        });
        return record;
      }
    }
    throw new Error(`the snapshot did not finish in ${runs} runs`);
  }

  it('copies mixed _id types in index order and stays exact when documents change or vanish while their chunk is read', async () => {
    // Prepare: documents of every _id type exist before the stream's first run.
    const db = uniqueName('snap-subtle');
    const namespace = { db, coll: 'items' };
    const items = harness.mongo.db(db).collection<AnyId>('items');
    const ids = await mixedIds();
    await items.insertMany(ids.map((id, index) => ({ _id: id, n: index, state: 'original' })));
    // The sinks recognise "mongo-cdc.<db>.<coll>" topics, which name the namespace where the stand-in's events lack ns.
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: 'mongo-cdc', snapshotChunkDocuments: 4 });
    const touched: string[] = [];
    // Around every chunk: between T and the read, update one document the chunk will hold and delete another; between
    // the read and Kafka, update and delete two of the documents just read. Every one of those changes is after T.
    const meddle = (deps: SnapshotDeps): SnapshotDeps => ({
      ...deps,
      reader: withRead(deps.reader, async (ns, cursor, limit, at, target, filter) => {
        // The stand-in rejects the deprecated types' brackets; the reader skips them as it will.
        const upcoming = await items.find(chunkFilter(cursor, filter)).sort({ _id: 1 }).limit(limit).toArray().catch(() => []);
        if (upcoming[0]) await items.updateOne({ _id: upcoming[0]._id }, { $set: { state: 'changed before the read' } });
        if (upcoming[1]) await items.deleteOne({ _id: upcoming[1]._id });
        const chunk = await deps.reader.read(ns, cursor, limit, at, target, filter);
        // The documents just read, as their copies carry them (one record per document here: none is oversize).
        const [, , third, fourth] = chunk.encoded.records.map((record) => copiedDocument(record));
        if (third) await items.updateOne({ _id: third._id }, { $set: { state: 'changed after the read' } });
        if (fourth) await items.deleteOne({ _id: fourth._id });
        touched.push(...upcoming.slice(0, 2).map((document) => String(document.n)));
        return chunk;
      }),
    });

    // Act
    const record = await runUntilSnapshotDone(stream, { wrapSnapshots: meddle });
    const records = await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`]);

    // Assess: the copy went through every bracket, and the changes made during it are live records after it.
    expect(touched.length).toBeGreaterThan(4);
    expect(record.runs).toEqual([expect.objectContaining({ by: 'initial snapshot', finishedAt: expect.any(String) })]);
    const copied = snapshotRecords(records);
    expect(copied.length).toBe(record.runs[0]?.documents);
    expect(copied.length).toBeGreaterThan(ids.length / 2);
    expect(new Set(copied.map((entry) => entry.headers[HEADERS.snapshot]))).toEqual(new Set([record.runs[0]?.id]));
    expect(liveRecords(records).length).toBeGreaterThan(0);
    const truth = await items.find({}, { promoteValues: false }).toArray();
    // The copies really are stale for some documents: deleted since, or changed since (the sinks must not keep them).
    const truthByKey = new Map(truth.map((document) => [keyText(document._id), document]));
    const copiedDocuments = copied.map((entry) => copiedDocument(entry));
    expect(copiedDocuments.filter((document) => !truthByKey.has(keyText(document._id))).length).toBeGreaterThan(0);
    expect(copiedDocuments.filter((document) => truthByKey.get(keyText(document._id))?.state === 'changed after the read' && document.state === 'original').length).toBeGreaterThan(0);
    // Whatever order Kafka delivers them in: every copy after every change, and every copy before every change.
    const copiesLast = new ReportingPair(harness.dynamo);
    const copiesFirst = new ReportingPair(harness.dynamo);
    await copiesLast.setUp();
    await copiesFirst.setUp();
    try {
      const dl0 = await copiesLast.apply(sinks, [...liveRecords(records), ...copied]); if (dl0) console.log('DLQ', JSON.stringify((await sinks.deadLetters()).map((r) => [r.headers['cdc-dlq-reason'], r.value?.toString().slice(0, 400)])));
      expect(dl0).toBe(0);
      const dl = await copiesFirst.apply(sinks, [...copied, ...liveRecords(records)]); if (dl) console.log('DLQ', JSON.stringify((await sinks.deadLetters()).map((r) => [r.headers['cdc-dlq-reason'], r.value?.toString().slice(0, 400)])));
      expect(dl).toBe(0);
      expect(await copiesLast.differences(namespace, truth)).toEqual([]);
      expect(await copiesFirst.differences(namespace, truth)).toEqual([]);
    } finally {
      await copiesLast.tearDown();
      await copiesFirst.tearDown();
    }
  });

  it('copies a chunk after every live batch while a backlog fills every batch, and keeps each pause within its bound', async () => {
    // Prepare: a stream that starts before 2,000 inserts and 4,000 updates, so every live batch of its first run is full
    // (the sustained load that used to leave a copy nothing), and that copies the same 2,000 documents.
    const db = uniqueName('snap-share');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    const startAt = new Date(Date.now() - 5_000).toISOString();
    await items.insertMany(Array.from({ length: 2_000 }, (_, index) => ({ _id: index, n: 0, body: 'x'.repeat(100) })));
    for (let round = 1; round <= 2; round++) await items.updateMany({}, { $set: { n: round } });
    const maxEvents = 100;
    const maxPauseMs = 400;
    const stream = harness.stream({
      snapshot: 'initial',
      startAt,
      database: db,
      collection: 'items',
      topicPrefix: uniqueName('t'),
      snapshotChunkDocuments: 100,
      snapshotShare: 0.5,
      snapshotMaxPauseMs: maxPauseMs,
      batch: { maxEvents, maxWaitMs: 1_000 },
    });

    // Act
    const { outcome, logger } = await harness.run(stream, 8_000);

    // Assess: walk the log in order. A turn is the chunks between two live batches; no writes run during the
    // invocation, so two batches with a relay.batch line each had events (the backlog), and every turn but the last
    // had time left (a later batch was read after it).
    expect(outcome).toMatchObject({ status: 'relayed' });
    if (outcome.status !== 'relayed') return;
    expect(outcome.events, 'the live stream moved').toBeGreaterThan(maxEvents);
    expect(outcome.snapshotted, 'the snapshot moved in the same invocation').toBeGreaterThan(0);
    const turns: number[][] = [];
    let turn: number[] | undefined;
    for (const line of logger.events) {
      if (line.event === 'relay.batch') {
        if (turn) turns.push(turn);
        turn = [];
      } else if (line.event === 'relay.snapshot-chunk') {
        turn?.push(Number(line.chunkMs));
      } else if (line.event === 'relay.snapshot-finished') {
        if (turn) turns.push(turn);
        break;
      }
    }
    if (logger.named('relay.snapshot-finished').length === 0) turns.pop();
    expect(turns.length, 'live batches followed one another while the snapshot ran').toBeGreaterThan(0);
    for (const chunks of turns) {
      expect(chunks.length, 'a chunk after every live batch').toBeGreaterThanOrEqual(1);
      // A further chunk starts only while the turn is shorter than the bound: all but the last fit inside it.
      expect(chunks.slice(0, -1).reduce((sum, ms) => sum + ms, 0)).toBeLessThan(maxPauseMs);
    }
    const [share] = logger.named('relay.snapshot-share');
    expect(share).toMatchObject({ liveMs: expect.any(Number), snapshotMs: expect.any(Number) });
    console.info(`share under a live backlog: ${JSON.stringify(share)}, ${turns.length} turns, chunks per turn ${turns.map((chunks) => chunks.length).join(',')}`);
  });

  it('finishes an empty collection at once and records the run', async () => {
    // Prepare
    const db = uniqueName('snap-empty');
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'nothing', topicPrefix: uniqueName('t') });

    // Act
    const { outcome, logger, metrics } = await harness.run(stream, 2_000);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', snapshotted: 0 });
    const record = await harness.snapshots.readSnapshots(stream.id);
    expect(record.running).toBeUndefined();
    expect(record.runs).toEqual([expect.objectContaining({ documents: 0, by: 'initial snapshot' })]);
    expect(logger.named('relay.snapshot-finished')).toHaveLength(1);
    expect(metrics.total('SnapshotDocuments')).toBe(0);
  });

  it('starts from now only with snapshot: never', async () => {
    // Prepare
    const db = uniqueName('snap-never');
    await harness.mongo.db(db).collection<AnyId>('items').insertMany([{ _id: 1 }, { _id: 2 }]);
    const stream = harness.stream({ database: db, collection: 'items', topicPrefix: uniqueName('t'), snapshot: 'never' });

    // Act
    await harness.run(stream, 1_500);
    await harness.mongo.db(db).collection<AnyId>('items').insertOne({ _id: 3 });
    const { outcome } = await harness.run(stream, 2_500);

    // Assess
    expect(outcome).toMatchObject({ status: 'relayed', events: 1, snapshotted: 0 });
    expect((await harness.snapshots.readSnapshots(stream.id)).runs).toEqual([]);
    const records = await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`]);
    // (On the stand-in, "now" is the wall clock less 2 s, so the two older inserts may arrive as changes too.)
    expect(snapshotRecords(records)).toEqual([]);
    expect(records.map((entry) => entry.key?.toString())).toContain('{"_id":{"$numberInt":"3"}}');
  });

  it('refuses a request while a snapshot runs, and runs a later one to the end', async () => {
    // Prepare: a snapshot that stops half-way (the invocation's time runs out after two chunks).
    const db = uniqueName('snap-again');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    await items.insertMany(Array.from({ length: 40 }, (_, index) => ({ _id: index })));
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: uniqueName('t'), snapshotChunkDocuments: 10 });
    let chunks = 0;
    const stopAfterTwo = (deps: SnapshotDeps): SnapshotDeps => ({
      ...deps,
      reader: withRead(deps.reader, async (ns, cursor, ...rest) => {
        // The number bracket holds every document here: let two chunks of it through, then drop the container.
        if (cursor.bracket === 2 && ++chunks > 2) throw new Error('container dropped');
        return deps.reader.read(ns, cursor, ...rest);
      }),
    });
    // A long budget: the dropped container ends the invocation, however long a busy machine takes to get there.
    await expect(harness.run(stream, 60_000, { wrapSnapshots: stopAfterTwo })).rejects.toThrow('container dropped');
    const halfWay = await harness.snapshots.readSnapshots(stream.id);

    // Act
    const refused = harness.snapshots.requestSnapshot(stream.id, { id: 'second', by: 'operator', at: new Date().toISOString() });

    // Assess
    await expect(refused).rejects.toMatchObject({ code: 'SNAPSHOT_RUNNING' });
    expect(halfWay.running).toMatchObject({ copied: 20, estimated: 40, cursor: { bracket: 2, after: '{"$numberInt":"19"}' } });
    const first = await runUntilSnapshotDone(stream);
    expect(first.runs).toEqual([expect.objectContaining({ documents: 40 })]);
    await harness.snapshots.requestSnapshot(stream.id, { id: 'second', by: 'operator', at: new Date().toISOString(), namespace: `${db}.items` });
    const second = await runUntilSnapshotDone(stream);
    expect(second.runs.map((run) => [run.id, run.by, run.documents, run.namespace])).toEqual([
      [first.runs[0]?.id, 'initial snapshot', 40, undefined],
      ['second', 'operator', 40, `${db}.items`],
    ]);
    const copied = snapshotRecords(await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`]));
    expect(copied.filter((entry) => entry.headers[HEADERS.snapshot] === 'second')).toHaveLength(40);
  });

  it('finishes the snapshot of a collection dropped while it is being copied', async () => {
    // Prepare
    const db = uniqueName('snap-drop');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    await items.insertMany(Array.from({ length: 30 }, (_, index) => ({ _id: index })));
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: uniqueName('t'), snapshotChunkDocuments: 10, onInvalidate: 'continue' });
    let copiedSome = false;
    let dropped = false;
    const dropAfterFirst = (deps: SnapshotDeps): SnapshotDeps => ({
      ...deps,
      reader: withRead(deps.reader, async (...args) => {
        if (copiedSome && !dropped) {
          dropped = true;
          await items.drop();
        }
        const chunk = await deps.reader.read(...args);
        if (chunk.documents > 0) copiedSome = true;
        return chunk;
      }),
    });

    // Act
    const record = await runUntilSnapshotDone(stream, { wrapSnapshots: dropAfterFirst });

    // Assess: the first chunk was copied, then the collection was gone and the snapshot ended cleanly.
    expect(dropped).toBe(true);
    expect(record.runs).toEqual([expect.objectContaining({ documents: 10 })]);
    expect(await items.countDocuments()).toBe(0);
  });
});
