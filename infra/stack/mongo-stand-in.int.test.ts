import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Binary, type Document, Double, Int32, Long, MongoClient, MongoServerError, ObjectId, UUID } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileLauncher, jarsIn, resolveArtifacts } from './artifacts';
import { bindHost } from './stack-settings';

/**
 * The stand-in's own promises that a shared stack cannot show: its oplog is bounded, and a stream resumed from an
 * entry that fell off fails with ChangeStreamHistoryLost as MongoDB's does; its `_id` index answers exactly as its full
 * scan does. Runs a private stand-in with a tiny oplog.
 */
const OPLOG_ENTRIES = 20;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, bindHost, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('MongoDB stand-in with a bounded oplog', () => {
  let child: ChildProcess | undefined;
  let client: MongoClient;

  beforeAll(async () => {
    const jars = jarsIn(resolveArtifacts('mongo', () => undefined));
    const classpath = `${jars}:${compileLauncher('mongo', jars)}`;
    const port = await freePort();
    child = spawn('java', ['-Xmx128m', '-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire=off', '-cp', classpath, 'MongoStandIn', bindHost, String(port), '--oplog-entries', String(OPLOG_ENTRIES)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    client = new MongoClient(`mongodb://${bindHost}:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 30_000 });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    child?.kill('SIGTERM');
  });

  it('keeps only the newest entries: resuming from one that fell off fails with ChangeStreamHistoryLost (286)', async () => {
    // Prepare
    const collection = client.db('bounded').collection('items');
    const stream = collection.watch([], { maxAwaitTimeMS: 200 });
    expect(await stream.tryNext()).toBeNull();
    await collection.insertOne({ _id: 'first' } as Document);
    const first = await stream.tryNext();
    await collection.insertMany(Array.from({ length: OPLOG_ENTRIES + 5 }, (_, index) => ({ _id: index })) as Document[]);

    // Act
    const lost = collection.watch([], { resumeAfter: first!._id });
    const failure = await lost.tryNext().then(() => undefined, (error: unknown) => error);
    const stillOpen = await stream.tryNext().then(() => undefined, (error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(MongoServerError);
    expect((failure as MongoServerError).code).toBe(286);
    // The open stream had fallen behind the same way: MongoDB ends it with the same error.
    expect((stillOpen as MongoServerError | undefined)?.code).toBe(286);
    await Promise.all([stream.close(), lost.close()]);
  });

  it('resumes from an entry still kept', async () => {
    // Prepare
    const collection = client.db('bounded-kept').collection('items');
    const stream = collection.watch([], { maxAwaitTimeMS: 200 });
    expect(await stream.tryNext()).toBeNull();
    await collection.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }] as Document[]);
    const first = await stream.tryNext();

    // Act
    const resumed = collection.watch([], { resumeAfter: first!._id, maxAwaitTimeMS: 200 });
    const next = [await resumed.tryNext(), await resumed.tryNext()];

    // Assess
    expect(next.map((event) => (event as Document | null)?.documentKey)).toEqual([{ _id: 2 }, { _id: 3 }]);
    await Promise.all([stream.close(), resumed.close()]);
  });

  it('answers a query sorted by _id from its _id index exactly as its scan and sort would, through inserts, updates and deletes', async () => {
    // Prepare: a small deterministic generator, so a failure replays.
    let seed = 20_261_130;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const makeId = (): unknown =>
      pick([
        () => new Int32(Math.floor(random() * 200) - 100),
        () => Long.fromNumber(Math.floor(random() * 200) + 1_000),
        () => new Double(random() * 400 - 200),
        () => `k${Math.floor(random() * 500)}`,
        () => ({ a: Math.floor(random() * 20), b: pick(['x', 'y']) }),
        () => new Binary(Buffer.from([Math.floor(random() * 256), Math.floor(random() * 256)]), 0),
        () => new UUID(),
        () => new ObjectId(),
        () => new Date(Math.floor(random() * 1e12)),
        () => random() < 0.5,
      ])();
    const collection = client.db('indexed-order').collection('items');
    const write = async () => {
      const roll = random();
      const existing = await collection.find({}).skip(Math.floor(random() * 20)).limit(1).next();
      if (roll < 0.55 || !existing) {
        await collection.insertOne({ _id: makeId(), n: Math.floor(random() * 10) } as Document).catch((error: unknown) => {
          // A generated key may repeat one already stored; MongoDB refuses it the same way (11000).
          if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
        });
      } else if (roll < 0.7) {
        await collection.updateOne({ _id: existing._id } as Document, { $set: { n: Math.floor(random() * 10) } });
      } else if (roll < 0.8) {
        await collection.replaceOne({ _id: existing._id } as Document, { n: Math.floor(random() * 10), replaced: true });
      } else {
        await collection.deleteOne({ _id: existing._id } as Document);
      }
    };
    const filters = (after: unknown): Document[] => [
      {},
      { _id: { $gt: after } },
      { _id: { $gte: after } },
      { _id: { $lt: after } },
      { $and: [{ _id: { $gt: after } }, { n: { $lt: 5 } }] },
      { _id: { $type: pick(['number', 'string', 'object', 'binData', 'objectId', 'date', 'bool']) } },
      { _id: { $gt: after, $lte: makeId() } },
    ];
    for (let n = 0; n < 150; n += 1) await write();

    // Act and assess: between rounds of writes, each query read through the index ({_id: d}) and through the scan
    // (a second sort key that no document has, which changes no order but keeps the index out).
    let compared = 0;
    for (let round = 0; round < 30; round += 1) {
      for (let n = 0; n < 10; n += 1) await write();
      const after = (await collection.find({}).skip(Math.floor(random() * 100)).limit(1).next())?._id ?? makeId();
      for (const filter of filters(after)) {
        for (const direction of [1, -1] as const) {
          const limit = pick([0, 1, 3, 50]);
          const skip = pick([0, 0, 2]);
          const indexed = await collection.find(filter).sort({ _id: direction }).skip(skip).limit(limit).toArray();
          const scanned = await collection.find(filter).sort({ _id: direction, absent: 1 }).skip(skip).limit(limit).toArray();
          expect(indexed, JSON.stringify({ filter, direction, skip, limit })).toEqual(scanned);
          compared += indexed.length;
        }
      }
    }
    // The comparison covered real answers, not only empty ones.
    expect(compared).toBeGreaterThan(1_000);
  });
});
