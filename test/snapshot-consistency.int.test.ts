import { Binary, type Document, Int32, Long, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutgoingRecord, RecordProducer } from '../functions/relay/record-producer';
import { HEADERS } from '../shared/record-format';
import { readAllRecords } from './support/local-clients';
import { mongoKindUnderTest } from './support/mongo-under-test';
import { RelayHarness } from './support/relay-harness';
import { SinkHarness } from './support/sink-harness';
import { ReportingPair } from './support/store-equality';
import { uniqueName } from './support/unique-name';

/** `npm test` copies 5,000 documents; `npm run test:snapshot-large` runs the same test with 50,000. */
const DOCUMENTS = Number(process.env.SNAPSHOT_TEST_DOCUMENTS ?? 5_000);

// biome-ignore lint/suspicious/noExplicitAny: the driver types _id as ObjectId unless told otherwise, and its filter types accept no unknown _id
type AnyId = Document & { _id: any };

/** Five `_id` types in turn: ObjectId, string, number (Int32 and Int64), sub-document, UUID. */
function idFor(index: number): unknown {
  switch (index % 6) {
    case 0:
      return new ObjectId();
    case 1:
      return `key-${index}`;
    case 2:
      return new Int32(index);
    case 3:
      return Long.fromNumber(index * 1_000_003);
    case 4:
      return { tenant: `t${index % 7}`, n: new Int32(index) };
    default:
      return new Binary(Buffer.from(new ObjectId().toHexString().padEnd(32, '0'), 'hex'), 4);
  }
}

const documentFor = (id: unknown, index: number) => ({ _id: id, n: new Int32(index), label: `document ${index}`, body: 'x'.repeat(200) });

describe('snapshot under load, with the relay killed twice', () => {
  const harness = new RelayHarness();
  const sinks = new SinkHarness();
  const stores = new ReportingPair(harness.dynamo);

  beforeAll(async () => {
    await harness.setUp();
    await sinks.setUp();
    await stores.setUp();
  });
  afterAll(async () => {
    await stores.tearDown();
    await sinks.tearDown();
    await harness.tearDown();
  });

  it(`copies ${DOCUMENTS} documents while they change, and the stores end equal to MongoDB`, { timeout: 120_000 + DOCUMENTS * 25 }, async () => {
    // Prepare
    console.info(`snapshot consistency test: ${DOCUMENTS} documents against ${await mongoKindUnderTest()}`);
    const db = uniqueName('snap-load');
    const namespace = { db, coll: 'items' };
    const items = harness.mongo.db(db).collection<AnyId>('items');
    const ids: AnyId['_id'][] = [];
    for (let start = 0; start < DOCUMENTS; start += 5_000) {
      const batch = Array.from({ length: Math.min(5_000, DOCUMENTS - start) }, (_, offset) => {
        const id = idFor(start + offset);
        ids.push(id);
        return documentFor(id, start + offset);
      });
      await items.insertMany(batch, { ordered: false });
    }
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: 'mongo-cdc', snapshotChunkDocuments: 500 });

    // Random inserts, updates, replaces and deletes for as long as the snapshot runs.
    let writing = true;
    let changes = 0;
    const writer = (async () => {
      let next = DOCUMENTS;
      while (writing) {
        const pick: AnyId['_id'] = ids[Math.floor(Math.random() * ids.length)];
        const roll = Math.random();
        if (roll < 0.25) {
          const id = idFor(next);
          ids.push(id);
          await items.insertOne(documentFor(id, next++));
        } else if (roll < 0.6) {
          await items.updateOne({ _id: pick }, { $set: { label: `updated ${changes}` }, $inc: { n: 1 } });
        } else if (roll < 0.8) {
          await items.replaceOne({ _id: pick }, { label: `replaced ${changes}`, body: 'y'.repeat(100) });
        } else {
          await items.deleteOne({ _id: pick });
        }
        changes++;
        // About 200 changes a second: a steady load, leaving the relay its share of a busy machine.
        if (changes % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // A producer that sends a snapshot chunk to Kafka and then dies before the relay can save the progress.
    let kills = 0;
    const killAfterSnapshotSend = (afterSends: number) => (producer: RecordProducer): RecordProducer => {
      let sends = 0;
      return {
        async send(records: readonly OutgoingRecord[]) {
          await producer.send(records);
          if (records.some((record) => record.headers[HEADERS.snapshot] !== undefined) && ++sends === afterSends) {
            kills++;
            throw new Error('relay killed mid-snapshot');
          }
        },
      };
    };

    // Act: invocations until the snapshot finished; two die mid-snapshot, each after its second chunk reached Kafka.
    // An invocation that copies fewer than two chunks (a slow start on a busy machine) is not killed: the next one is.
    let invocation = 0;
    let finished = false;
    while (!finished) {
      invocation++;
      expect(invocation, 'the snapshot should finish').toBeLessThan(30 + DOCUMENTS / 500);
      const wrapProducer = kills < 2 ? killAfterSnapshotSend(2) : undefined;
      await harness.run(stream, 4_000, wrapProducer ? { wrapProducer } : {}).catch((error: Error) => {
        if (error.message !== 'relay killed mid-snapshot' && (error.cause as Error | undefined)?.message !== 'relay killed mid-snapshot') throw error;
      });
      const record = await harness.snapshots.readSnapshots(stream.id);
      finished = record.runs.length > 0 && !record.running;
      console.info(`invocation ${invocation}: copied ${record.running?.copied ?? record.runs[0]?.documents}, ${changes} changes so far`);
    }
    writing = false;
    await writer;
    // Drain the live tail: every change the writer made is in Kafka once a run finds nothing more.
    for (let drained = false; !drained; ) {
      const { outcome } = await harness.run(stream, 3_000);
      console.info(`drain: ${JSON.stringify(outcome)}`);
      drained = outcome.status === 'relayed' && outcome.events === 0;
    }
    let mark = Date.now();
    const records = await readAllRecords(harness.kafka, [`mongo-cdc.${db}.items`], 300_000);
    console.info(`read ${records.length} records in ${Date.now() - mark} ms`);
    mark = Date.now();
    const deadLettered = await stores.apply(sinks, records, 1_000);
    console.info(`applied them to both stores in ${Date.now() - mark} ms`);

    // Assess
    expect(kills).toBe(2);
    expect(changes).toBeGreaterThan(100);
    const run = (await harness.snapshots.readSnapshots(stream.id)).runs[0];
    expect(run?.documents).toBeGreaterThan(DOCUMENTS * 0.7);
    expect(records.filter((record) => record.headers[HEADERS.snapshot] !== undefined).length).toBeGreaterThanOrEqual(run?.documents ?? 0);
    expect(deadLettered).toBe(0);
    const truth = await items.find({}, { promoteValues: false }).toArray();
    expect(await stores.differences(namespace, truth)).toEqual([]);
  });
});
