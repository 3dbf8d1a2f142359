import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, SERVICE_VARIABLES, waitFor } from '../../test/support/pipeline-process';
import { expectStoresEqualMongo } from '../../test/support/store-assertions';
import { artifactsDir, projectRoot } from '../stack/stack-settings';

/** Ports nothing listens on right now, so this stack disturbs neither the suite's stack nor anyone else's. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((done) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => done(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

const demoCollections = ['customers', 'orders'];

/**
 * What a new user does first, on a machine where nothing runs: `npm start -- --demo` with no variable set. It must
 * start the stack itself (its own state folder and ports here, so the suite's stack is not touched), create what it
 * needs, relay the demo's changes, and be restartable against the data it left: three more runs, after which the
 * three stores still equal MongoDB document by document.
 */
describe('the quickstart from a stopped stack, with no variable set', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'mongo-cdc-cold-'));
  let env: NodeJS.ProcessEnv = {};
  let ports: number[] = [];

  beforeAll(async () => {
    // mkdtemp makes it private; OpenSearch may run as its own system user (under root), which must reach its folder.
    chmodSync(stateDir, 0o755);
    ports = await freePorts(6);
    const [kafka, controller, dynamodb, mongodb, opensearch, transport] = ports.map(String);
    env = {
      ...process.env,
      STACK_STATE_DIR: stateDir,
      // Nothing runs and the state folder is new; only the downloaded artifacts are shared with the suite's stack (a
      // fresh clone's first download is what CI's fresh install exercises).
      STACK_ARTIFACTS_DIR: artifactsDir,
      KAFKA_PORT: kafka,
      KAFKA_CONTROLLER_PORT: controller,
      DYNAMODB_PORT: dynamodb,
      MONGODB_PORT: mongodb,
      OPENSEARCH_PORT: opensearch,
      OPENSEARCH_TRANSPORT_PORT: transport,
      POWERTOOLS_LOG_LEVEL: 'WARN',
    };
    for (const name of SERVICE_VARIABLES) delete env[name];
  });
  afterAll(async () => {
    await promisify(execFile)('npm', ['run', '--silent', 'stack:down'], { cwd: projectRoot, env }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts the stack with progress, relays the demo, and stays equal to MongoDB across restarts on retained data', async () => {
    // Act 1: the quickstart, from nothing running.
    const startedAt = Date.now();
    const first = startPipeline('npm', ['--demo', '--rate', '30', '--duration', '6'], env);
    const firstExit = await first.exited;
    const timings = [`cold start and first run ${Date.now() - startedAt} ms`];

    // Assess 1: it started the services itself (with progress), used its defaults, relayed, drained and exited 0.
    expect(firstExit, first.stderr()).toEqual({ code: 0, signal: null });
    const progress = first.lines.filter((line) => line.event === 'local.stack').map((line) => String(line.progress));
    for (const service of ['kafka', 'dynamodb', 'mongodb', 'opensearch']) {
      expect(progress.some((text) => text.startsWith(`${service}: starting on 127.0.0.1:`)), progress.join('\n')).toBe(true);
    }
    expect(first.event('local.configuration')?.defaulted).toEqual(expect.arrayContaining(['MONGODB_URI', 'KAFKA_BROKERS', 'DYNAMODB_ENDPOINT', 'OPENSEARCH_URL', 'CONTROL_TABLE']));
    expect(first.event('local.stopped')).toMatchObject({ reason: 'drained', clean: true });
    const relayed = ((first.event('local.stopped')?.streams ?? []) as Array<{ eventsRelayed: number }>).map((stream) => stream.eventsRelayed);
    expect(relayed.every((count) => count > 0), JSON.stringify(relayed)).toBe(true);

    // Act 2: three restarts of the demo against the retained data; during the first, a second start is attempted.
    for (let restart = 0; restart < 3; restart++) {
      const restartedAt = Date.now();
      const run = startPipeline('npm', ['--demo', '--rate', '30', '--duration', '4'], env);
      if (restart === 0) {
        await waitFor('the restarted pipeline running', () => run.event('local.running') !== undefined || run.event('local.failed') !== undefined, 240_000);
        const second = startPipeline('node', [], env);
        const secondExit = await second.exited;
        expect(secondExit).toEqual({ code: 3, signal: null });
        expect(second.stderr()).toContain(`a local pipeline is already running (pid ${run.event('local.running')?.pid}`);
      }
      const exit = await run.exited;
      expect(exit, run.stderr()).toEqual({ code: 0, signal: null });
      expect(run.stderr()).not.toMatch(/preexisting|duplicate key|E11000/i);
      expect(run.event('local.stopped')).toMatchObject({ reason: 'drained', clean: true });
      timings.push(`restart ${restart + 1}: ${Date.now() - restartedAt} ms`);
    }
    console.log(`[quickstart] ${timings.join('; ')}`);

    // Assess 2: MongoDB, DynamoDB and OpenSearch hold the same documents, document by document.
    const [, , dynamodbPort, mongodbPort, opensearchPort] = ports;
    const mongo = new MongoClient(`mongodb://127.0.0.1:${mongodbPort}/?directConnection=true`);
    const dynamo = new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynamodbPort}`, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      const stores = { mongo, dynamo, reportingTable: 'mongo-cdc-local-reporting', opensearchUrl: `http://127.0.0.1:${opensearchPort}`, indexTemplate: 'mongo-cdc-{db}-{coll}' };
      for (const collection of demoCollections) {
        // Four runs of customers: each run's ids are its own, so none of its inserts was refused.
        expect(await expectStoresEqualMongo(stores, 'shop', collection)).toBeGreaterThan(10);
      }
      const runs = new Set((await mongo.db('shop').collection<{ _id: string }>('customers').find({}, { projection: { _id: 1 } }).toArray()).map((doc) => doc._id.split('-')[1]));
      expect(runs.size).toBeGreaterThanOrEqual(3);
    } finally {
      await mongo.close();
      dynamo.destroy();
    }
  }, 900_000);
});
