import type { Document } from 'mongodb';
import { withRead } from '../../test/support/chunk-reader-wrapper';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../stack/endpoints';
import { RelayHarness } from '../../test/support/relay-harness';
import { uniqueName } from '../../test/support/unique-name';
import { runCli } from './cli';

type AnyId = Document & { _id: unknown }; // the driver types _id as ObjectId unless told otherwise

describe('mongo-cdc snapshot against the local stack', () => {
  const relay = new RelayHarness();
  const db = uniqueName('ops-snap');
  const stream = relay.stream({ database: db, collection: 'orders', snapshot: 'never', snapshotChunkDocuments: 50 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify([{ id: stream.id, database: db, collection: 'orders', snapshot: 'never' }]),
    CONTROL_TABLE: relay.table,
    DYNAMODB_ENDPOINT: endpoints.dynamodb(),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    MONGODB_URI: endpoints.mongodbUri(),
    MONGO_CDC_OPERATOR: 'ops-test',
  };
  const cli = async (...argv: string[]) => {
    const result = { code: 0, out: '', err: '' };
    result.code = await runCli(argv, env, { out: (text) => (result.out += `${text}\n`), err: (text) => (result.err += `${text}\n`) });
    return result;
  };

  beforeAll(async () => {
    await relay.setUp();
  });
  afterAll(async () => {
    await relay.tearDown();
  });

  it('asks for a snapshot, refuses a second, shows progress with rate and ETA, and records the finished run', async () => {
    // Prepare: a running stream that started from now, over 200 documents it never copied.
    await relay.mongo.db(db).collection<AnyId>('orders').insertMany(Array.from({ length: 200 }, (_, index) => ({ _id: index })));
    await relay.run(stream, 1_000);

    // Act
    const asked = await cli('snapshot', stream.id, '--namespace', `${db}.orders`, '--by', 'alice');
    const again = await cli('snapshot', stream.id);
    const outside = await cli('snapshot', stream.id, '--namespace', `${db}.other`);
    const waiting = await cli('status', '--stream', stream.id);
    // Two chunks, then the invocation dies: the snapshot is half-way. (A long budget: the death ends it.)
    let reads = 0;
    await relay
      .run(stream, 60_000, {
        wrapSnapshots: (deps) => ({
          ...deps,
          reader: withRead(deps.reader, async (ns, cursor, ...rest) => {
            if (cursor.bracket === 2 && ++reads > 2) throw new Error('container dropped');
            return deps.reader.read(ns, cursor, ...rest);
          }),
        }),
      })
      .catch(() => undefined);
    const halfWay = await cli('status', '--stream', stream.id, '--json');
    const halfWayText = await cli('status', '--stream', stream.id);
    while ((await relay.snapshots.readSnapshots(stream.id)).running) await relay.run(stream, 3_000);
    const done = await cli('status', '--stream', stream.id);

    // Assess
    expect(asked.code).toBe(0);
    expect(asked.out).toMatch(/snapshot \S+ asked for by alice \(ops-snap-\S+\.orders\); the relay starts it at its next run/);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already has snapshot \S+ requested/);
    expect(outside.code).toBe(2);
    expect(outside.err).toMatch(/does not watch/);
    expect(waiting.out).toMatch(/snapshot asked\s+\S+ by alice/);
    const [status] = JSON.parse(halfWay.out) as Array<{ snapshot: { running: { copied: number; estimated: number; rate: number; etaSeconds: number } } }>;
    expect(status?.snapshot.running).toMatchObject({ copied: 100, estimated: 200 });
    expect(status?.snapshot.running.rate).toBeGreaterThan(0);
    expect(status?.snapshot.running.etaSeconds).toBeGreaterThan(0);
    expect(halfWayText.out).toMatch(/snapshot\s+\S+ by alice: ops-snap-\S+\.orders: 100 of ~200 copied, \d+\/s, ETA \d+/);
    expect(done.out).toMatch(/snapshot run\s+\S+ by alice \(ops-snap-\S+\.orders\): 200 documents, asked \S+, finished \S+/);
  });
});
