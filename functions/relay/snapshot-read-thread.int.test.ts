import { withRead } from '../../test/support/chunk-reader-wrapper';
import { type Document, Int32, Long, ObjectId } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { HEADERS } from '../../shared/record-format';
import { readAllRecords } from '../../test/support/local-clients';
import { waitFor } from '../../test/support/pipeline-process';
import { RelayHarness } from '../../test/support/relay-harness';
import { SwitchableProxy } from '../../test/support/switchable-proxy';
import { uniqueName } from '../../test/support/unique-name';
import type { StreamConfig } from './relay-config';
import type { SnapshotReadThread } from './snapshot-deps';
import { isFinished, type KeyCursor, START } from './snapshot-plan';
import { type Chunk, MongoChunkReader } from './snapshot-reader';
import type { SnapshotDeps } from './snapshot-step';
import { snapshotReadWorkerEntry, ThreadChunkReader } from './thread-chunk-reader';

// biome-ignore lint/suspicious/noExplicitAny: documents of every _id type
type AnyId = { _id: any; [key: string]: unknown };

/** What a chunk is, byte for byte, for comparing the two readers. */
function comparable(chunk: Chunk) {
  const { records, ...counts } = chunk.encoded;
  return {
    documents: chunk.documents,
    next: chunk.next,
    bracketUnsupported: chunk.bracketUnsupported,
    counts,
    records: records.map((record) => ({ topic: record.topic, key: record.key.toString('hex'), value: record.value?.toString('hex') ?? null, headers: { ...record.headers } })),
  };
}

describe('the snapshot reading thread against real services', () => {
  const harness = new RelayHarness();
  // The thread's connections go through this proxy, so a test can cut them while the relay's own stay up.
  const mongoUrl = new URL(endpoints.mongodbUri());
  const proxy = new SwitchableProxy(mongoUrl.hostname, Number(mongoUrl.port));
  const entry = snapshotReadWorkerEntry();

  beforeAll(async () => {
    await harness.setUp();
    await proxy.listen();
    proxy.enable();
  });
  // Whatever a test did to it.
  beforeEach(() => proxy.enable());
  afterAll(async () => {
    await proxy.close();
    await harness.tearDown();
  });

  function throughProxy(serverSelectionTimeoutMS = 10_000): SnapshotReadThread {
    if (!entry) throw new Error('the reading thread module is missing');
    const uri = endpoints.mongodbUri().replace(`${mongoUrl.hostname}:${mongoUrl.port}`, `127.0.0.1:${proxy.port}`);
    return { entry, uri, clientOptions: { maxPoolSize: 2, serverSelectionTimeoutMS } };
  }

  async function runUntilSnapshotDone(stream: StreamConfig, thread: SnapshotReadThread, afterEachRun: () => Promise<void> = async () => {}) {
    for (let run = 0; run < 30; run++) {
      await harness.run(stream, 2_500, { snapshotReadThread: thread });
      await afterEachRun();
      const record = await harness.snapshots.readSnapshots(stream.id);
      if (!record.running && record.runs.length > 0) return record;
    }
    throw new Error('the snapshot did not finish in 30 runs');
  }

  it('encodes every chunk exactly as the producing thread does: object-path documents, dead letters and every bracket', async () => {
    // Prepare: _ids of several types, documents the byte writer hands to the object path, and one over the size limit.
    const db = uniqueName('snap-thread-same');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    await items.insertMany([
      ...Array.from({ length: 25 }, (_, n) => ({ _id: n, n, text: 'é'.repeat(n * 7) })),
      { _id: Long.fromNumber(2 ** 40), kind: 'long' },
      { _id: new Int32(-3), kind: 'int32' },
      { _id: 'text', '10': 'integer-like key', '2': 'moves first in an object' },
      { _id: new ObjectId(), ref: { $ref: 'other', $id: 7 } },
      { _id: { a: 1 }, big: 'x'.repeat(5_000) },
      { _id: new Date(1_700_000_000_000), when: new Date(1_800_000_000_000) },
      { _id: 'another', flag: true },
    ] as AnyId[]);
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', oversize: 'dlq' });
    const target = { snapshotId: 'same-bytes', maxRecordBytes: 2_000 };
    const here = new MongoChunkReader(harness.mongo, stream);
    const thread = new ThreadChunkReader(throughProxy().entry, throughProxy().uri, stream, throughProxy().clientOptions);
    const namespace = { db, coll: 'items' };
    const filter: Document = { $or: [{ n: { $exists: false } }, { n: { $ne: 4 } }] };

    // Act: both walk the whole collection in chunks of 4, at the same read point.
    const at = await thread.readPoint();
    const walked: { here: ReturnType<typeof comparable>[]; thread: ReturnType<typeof comparable>[] } = { here: [], thread: [] };
    try {
      for (const [name, reader] of [['here', here], ['thread', thread]] as const) {
        let cursor: KeyCursor = START;
        while (!isFinished(cursor)) {
          const chunk = await reader.read(namespace, cursor, 4, at, target, filter);
          walked[name].push(comparable(chunk));
          cursor = chunk.next;
        }
      }
      // A read point and the chunk at it in one call: the same chunk as read at that point on this thread.
      const fromNow = await thread.readFromNow(namespace, START, 4, target, filter);
      expect(comparable(fromNow.chunk)).toEqual(comparable(await here.read(namespace, START, 4, fromNow.at, target, filter)));
      expect(await thread.hasDocuments(namespace, at)).toBe(true);
      expect(await thread.hasDocuments({ db, coll: 'nothing-here' }, at)).toBe(false);
    } finally {
      await thread.close();
    }

    // Assess
    expect(walked.thread).toEqual(walked.here);
    const totals = walked.thread.reduce((sum, chunk) => ({ documents: sum.documents + chunk.documents, deadLettered: sum.deadLettered + chunk.counts.deadLettered, viaObjects: sum.viaObjects + chunk.counts.viaObjects }), { documents: 0, deadLettered: 0, viaObjects: 0 });
    expect(totals).toEqual({ documents: 31, deadLettered: 1, viaObjects: 3 });
    await waitFor('the closed thread to end its connections', () => proxy.openSockets === 0, 10_000);
  });

  it('fails the invocation with MONGO_UNAVAILABLE when the thread loses its connection mid-chunk, saving no progress for that chunk', async () => {
    // Prepare
    const db = uniqueName('snap-thread-cut');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    await items.insertMany(Array.from({ length: 30 }, (_, n) => ({ _id: n })));
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: uniqueName('t'), snapshotChunkDocuments: 10 });
    let reads = 0;
    // The second chunk (read ahead while the first goes to Kafka): its read point is taken, then the connection is cut.
    const cutSecondRead = (deps: SnapshotDeps): SnapshotDeps => ({
      ...deps,
      reader: withRead(deps.reader, async (...args) => {
        const reading = deps.reader.read(...args);
        if (args[1].bracket === 2 && ++reads === 2) proxy.disable();
        return reading;
      }),
    });

    // Act
    const failed = harness.run(stream, 30_000, { snapshotReadThread: throughProxy(1_000), wrapSnapshots: cutSecondRead });

    // Assess: a named, transient failure; the first chunk's progress saved, nothing of the second.
    await expect(failed).rejects.toMatchObject({ code: 'MONGO_UNAVAILABLE' });
    const halfWay = await harness.snapshots.readSnapshots(stream.id);
    expect(halfWay.running).toMatchObject({ copied: 10, cursor: { bracket: 2, after: '{"$numberInt":"9"}' } });
    const topic = `${stream.topicPrefix}.${db}.items`;
    expect((await readAllRecords(harness.kafka, [topic])).filter((record) => record.headers[HEADERS.snapshot] !== undefined)).toHaveLength(10);
    await waitFor('the failed thread to be gone with its connections', () => proxy.openSockets === 0, 10_000);

    // And the next invocations, with the connection back, copy the rest.
    proxy.enable();
    const done = await runUntilSnapshotDone(stream, throughProxy());
    expect(done.runs).toEqual([expect.objectContaining({ documents: 30 })]);
    const copies = (await readAllRecords(harness.kafka, [topic])).filter((record) => record.headers[HEADERS.snapshot] !== undefined);
    expect(new Set(copies.map((record) => record.key?.toString())).size).toBe(30);
    expect(copies).toHaveLength(30);
  });

  it('stops its thread when each invocation ends, and the next invocation starts another that carries on', async () => {
    // Prepare: more chunks than one short invocation copies on a busy machine, so invocations end mid-copy.
    const db = uniqueName('snap-thread-stop');
    const items = harness.mongo.db(db).collection<AnyId>('items');
    await items.insertMany(Array.from({ length: 600 }, (_, n) => ({ _id: n, text: 'x'.repeat(200) })));
    const stream = harness.stream({ snapshot: 'initial', database: db, collection: 'items', topicPrefix: uniqueName('t'), snapshotChunkDocuments: 20 });
    let runs = 0;

    // Act
    const done = await runUntilSnapshotDone(stream, throughProxy(), async () => {
      runs++;
      // Assess (after every invocation): the thread closed its connections and is gone.
      await waitFor('the thread to end its connections', () => proxy.openSockets === 0, 10_000);
    });

    // Assess
    expect(runs).toBeGreaterThan(0);
    expect(done.runs).toEqual([expect.objectContaining({ documents: 600 })]);
    const copies = (await readAllRecords(harness.kafka, [`${stream.topicPrefix}.${db}.items`])).filter((record) => record.headers[HEADERS.snapshot] !== undefined);
    expect(new Set(copies.map((record) => record.key?.toString())).size).toBe(600);
  });
});
