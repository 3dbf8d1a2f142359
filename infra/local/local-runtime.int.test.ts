import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, localDynamo, localKafka } from '../../test/support/local-clients';
import { groupAlive, startPipeline, waitFor } from '../../test/support/pipeline-process';
import { expectStoresEqualMongo } from '../../test/support/store-assertions';
import { uniqueName } from '../../test/support/unique-name';
import { endpoints } from '../stack/endpoints';

const npmStart = (args: string[], env: NodeJS.ProcessEnv) => startPipeline('npm', args, env);

describe('npm start runs the whole pipeline locally', () => {
  const db = uniqueName('local').replaceAll('-', '_');
  const controlTable = uniqueName('local-control');
  const reportingTable = uniqueName('local-reporting');
  const indexTemplate = `${uniqueName('local')}-{db}-{coll}`;
  const dynamo = localDynamo();
  const mongo = new MongoClient(endpoints.mongodbUri());
  const stores = { mongo, dynamo, reportingTable, opensearchUrl: endpoints.opensearch(), indexTemplate };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify([
      { id: `${db}-customers`, database: db, collection: 'customers' },
      { id: `${db}-orders`, database: db, collection: 'orders' },
    ]),
    CONTROL_TABLE: controlTable,
    REPORTING_TABLE: reportingTable,
    SINK_INDEX_TEMPLATE: indexTemplate,
    SINK_DEAD_LETTER_TOPIC: uniqueName('local-sink-dlq'),
    // Batches as small as the event source allows, so a stop lands mid-stream rather than between batches.
    SINK_BATCH_SIZE: '50',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };

  beforeAll(async () => {
    await mongo.connect();
  });
  afterAll(async () => {
    await dropTable(dynamo, controlTable);
    await dropTable(dynamo, reportingTable);
    await fetch(`${endpoints.opensearch()}/${indexTemplate.replace('{db}-{coll}', '*')}`, { method: 'DELETE' }).catch(() => undefined);
    const admin = localKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [`mongo-cdc.${db}.customers`, `mongo-cdc.${db}.orders`] }).catch(() => undefined);
    await admin.disconnect();
    await mongo.close();
    dynamo.destroy();
  });

  it('stops cleanly on Ctrl-C mid-demo, then a bounded run drains the rest: table and index equal MongoDB', async () => {
    // Act 1: the demo writes, changes flow, then Ctrl-C reaches the whole process group.
    const first = npmStart(['--demo', '--rate', '60'], env);
    await waitFor(
      'changes applied by both sinks',
      // After the initial snapshots of the seeded documents, so the stop lands among live changes.
      () =>
        first.lines.some(
          (line) =>
            line.event === 'local.status' &&
            (line.sinks as Array<{ applied: number }>).every((sink) => sink.applied > 20) &&
            (line.streams as Array<{ snapshotRunning?: boolean; snapshot?: string }>).every((stream) => stream.snapshot && !stream.snapshotRunning),
        ),
      90_000,
    );
    const interruptedAt = Date.now();
    process.kill(-(first.child.pid ?? 0), 'SIGINT');
    const firstExit = await first.exited;
    const stopMs = Date.now() - interruptedAt;
    await waitFor('no process of the run left', () => !groupAlive(first.child.pid ?? 0), 10_000);

    // Assess 1: a clean exit that released every lease.
    expect(firstExit).toEqual({ code: null, signal: 'SIGINT' });
    // Ctrl-C cuts every relay's remaining time to zero, so the stop never waits out an invocation (70 s) or a lease;
    // how long finishing the batches in hand takes depends on the machine (a few seconds quiet, 52 s seen at load 17).
    expect(stopMs).toBeLessThan(70_000);
    expect(first.lines.find((line) => line.event === 'local.stopping')).toMatchObject({ reason: 'SIGINT' });
    expect(first.lines.map((line) => line.event)).toContain('local.stopped');
    // The demo started with existing documents, which the initial snapshots copy (progress shown per stream).
    expect(first.lines.find((line) => line.event === 'local.demo-seeded')).toMatchObject({ documents: 3_000 });
    const done = (line: Record<string, unknown>) =>
      (line.streams as Array<{ snapshot?: string }> | undefined)?.every((stream) => /^done: \d+ documents copied/.test(stream.snapshot ?? ''));
    expect(first.lines.some((line) => line.event === 'local.status' && done(line))).toBe(true);
    const control = (await dynamo.send(new ScanCommand({ TableName: controlTable, ConsistentRead: true }))).Items ?? [];
    expect(control.map((item) => item.streamId?.S).sort()).toEqual([`${db}-customers`, `${db}-orders`]);
    for (const item of control) expect(item.leaseOwner).toBeUndefined();

    // Act 2: a bounded run with no demo picks up whatever the stop left behind and exits once drained.
    const second = npmStart(['--duration', '0'], env);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.lines.find((line) => line.event === 'local.stopping')).toMatchObject({ reason: 'drained' });

    // Assess 2: every document, exactly, in both stores; deletes are tombstones.
    for (const collection of ['customers', 'orders']) {
      expect(await expectStoresEqualMongo(stores, db, collection)).toBeGreaterThan(5);
    }
  });

  it('fails at start-up naming a malformed variable, before touching any service', async () => {
    const run = npmStart([], { ...env, SINK_BATCH_SIZE: 'lots' });
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toMatch(/environment variable SINK_BATCH_SIZE: /);
    expect(run.lines.map((line) => line.event)).not.toContain('local.stack');
  });
});
