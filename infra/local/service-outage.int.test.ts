import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, localDynamo, localKafka } from '../../test/support/local-clients';
import { startPipeline, waitFor } from '../../test/support/pipeline-process';
import { SwitchableProxy } from '../../test/support/switchable-proxy';
import { uniqueName } from '../../test/support/unique-name';
import { endpoints } from '../stack/endpoints';

/**
 * A service that is down does not end `npm start`: at start-up it is waited for (here the user's own DynamoDB, behind a
 * proxy the test switches off and on), and when it goes away while the pipeline runs, the pipeline carries on once it
 * is back.
 */
describe('npm start when a service is down', () => {
  const db = uniqueName('outage').replaceAll('-', '_');
  const controlTable = uniqueName('outage-control');
  const reportingTable = uniqueName('outage-reporting');
  const dynamo = localDynamo();
  const proxy = new SwitchableProxy('127.0.0.1', Number(new URL(endpoints.dynamodb()).port));
  const streamId = `${db}-customers`;
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    await proxy.listen();
    env = {
      ...process.env,
      CDC_STREAMS: JSON.stringify([{ id: streamId, database: db, collection: 'customers', batch: { maxWaitMs: 100 } }]),
      CONTROL_TABLE: controlTable,
      REPORTING_TABLE: reportingTable,
      LOCAL_SINKS: 'dynamodb',
      DYNAMODB_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      SINK_DEAD_LETTER_TOPIC: uniqueName('outage-sink-dlq'),
      // A failed relay invocation is retried at the next tick, as EventBridge would: ticks of 3 s keep the test short.
      RELAY_SCHEDULE_SECONDS: '3',
      RELAY_TIMEOUT_SECONDS: '20',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    };
  });
  afterAll(async () => {
    await proxy.close();
    await dropTable(dynamo, controlTable);
    await dropTable(dynamo, reportingTable);
    const admin = localKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [`mongo-cdc.${db}.customers`] }).catch(() => undefined);
    await admin.disconnect();
    dynamo.destroy();
  });

  const relayed = async () =>
    Number((await dynamo.send(new GetItemCommand({ TableName: controlTable, Key: { streamId: { S: streamId } }, ConsistentRead: true }))).Item?.eventsRelayed?.N ?? 0);

  it('waits for a service that does not answer at start-up, and carries on after it went away and came back', async () => {
    // Act 1: start while the DynamoDB it was given does not answer.
    const run = startPipeline('node', ['--demo', '--rate', '20'], env);
    await waitFor('the pipeline saying it waits for DynamoDB', () => run.lines.some((line) => line.event === 'local.stack' && /dynamodb: DYNAMODB_ENDPOINT points at .* which does not answer .*waiting for it/.test(String(line.progress))), 60_000);

    // Assess 1: still alive, not running yet.
    expect(run.child.exitCode).toBeNull();
    expect(run.event('local.running')).toBeUndefined();

    // Act 2: the service comes back.
    proxy.enable();
    await waitFor('the pipeline running', () => run.event('local.running') !== undefined, 120_000);
    await waitFor('changes relayed', async () => (await relayed()) > 0, 60_000);

    // Act 3: it goes away while the pipeline runs, long enough for relay invocations and sink batches to fail.
    proxy.disable();
    const failedBefore = run.lines.filter((line) => line.event === 'local.relay-invocation' && line.error !== undefined).length;
    await waitFor('a relay invocation failing while DynamoDB is away', () => run.lines.filter((line) => line.event === 'local.relay-invocation' && line.error !== undefined).length > failedBefore, 90_000);
    expect(run.child.exitCode).toBeNull();
    proxy.enable();
    const afterOutage = await relayed();

    // Assess 2: it carries on: more changes relayed after the service returned, and a clean Ctrl-C.
    await waitFor('changes relayed after DynamoDB came back', async () => (await relayed()) > afterOutage, 90_000);
    process.kill(-(run.child.pid ?? 0), 'SIGINT');
    expect(await run.exited, run.stderr()).toEqual({ code: 0, signal: null });
  }, 400_000);
});
