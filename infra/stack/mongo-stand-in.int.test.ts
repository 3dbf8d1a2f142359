import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { type Document, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileLauncher, jarsIn, resolveArtifacts } from './artifacts';
import { bindHost } from './stack-settings';

/**
 * The stand-in's own promises that a shared stack cannot show: its oplog is bounded, and a stream resumed from an
 * entry that fell off fails with ChangeStreamHistoryLost as MongoDB's does. Runs a private stand-in with a tiny oplog.
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
});
