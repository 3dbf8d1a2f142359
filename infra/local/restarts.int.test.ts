import { GetItemCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTable, localDynamo, localKafka } from '../../test/support/local-clients';
import { groupAlive, type PipelineRun, startPipeline, waitFor } from '../../test/support/pipeline-process';
import { expectStoresEqualMongo } from '../../test/support/store-assertions';
import { uniqueName } from '../../test/support/unique-name';
import { endpoints } from '../stack/endpoints';
import { parseLocalOwner } from './local-lease-owner';

/** Rounds per kind of stop; `npm run test:restarts` runs 20 of each, the suite a short variant. */
const ROUNDS = Number(process.env.RESTART_ROUNDS ?? '3');
/**
 * How soon after its launch a start must be relaying on every stream, however the previous run ended. The product's
 * target is 5 s; a start costs 2.2-2.7 s of CPU, so that holds while the machine has a core to spare (measured: max
 * 3.1 s at load 3), not at load 17 (max 17 s). Speed targets belong to measurement runs, not to the suite CI runs on a
 * busy machine: `npm run test:restarts` (20 + 20 rounds, run quiet) asserts the 5 s; the suite's short variant asserts
 * 30 s, which still fails a start that waits out a dead run's lease (60-80 s) instead of taking it over, and prints
 * every round's time.
 */
const RELAYING_WITHIN_MS = Number(process.env.RESTART_RELAYING_WITHIN_MS ?? '30000');

/**
 * The pipeline stopped at random moments, by Ctrl-C (SIGINT to its process group, as a terminal sends it) and by
 * SIGKILL, alternately. Every Ctrl-C must end cleanly with exit status 0; every start after any stop must be relaying
 * within a few seconds of its launch (a killed run's leases are recognised as abandoned and taken over, and its consumer group
 * members, which linger until their session times out, hold up only the sinks); and after it all, a drain leaves the
 * stores equal to MongoDB.
 */
describe(`the local pipeline stopped at random moments (${ROUNDS + 1} Ctrl-C and ${ROUNDS} SIGKILL)`, () => {
  const db = uniqueName('restarts').replaceAll('-', '_');
  const controlTable = uniqueName('restarts-control');
  const reportingTable = uniqueName('restarts-reporting');
  const indexTemplate = `${uniqueName('restarts')}-{db}-{coll}`;
  const dynamo = localDynamo();
  const mongo = new MongoClient(endpoints.mongodbUri());
  const streams = [`${db}-customers`, `${db}-orders`];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify([
      { id: streams[0], database: db, collection: 'customers', batch: { maxWaitMs: 100 } },
      { id: streams[1], database: db, collection: 'orders', batch: { maxWaitMs: 100 } },
    ]),
    CONTROL_TABLE: controlTable,
    REPORTING_TABLE: reportingTable,
    SINK_INDEX_TEMPLATE: indexTemplate,
    SINK_DEAD_LETTER_TOPIC: uniqueName('restarts-sink-dlq'),
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

  /** Each stream's lease holder and checkpoint save time, as the control table has them now. */
  async function checkpoints(): Promise<Array<{ owner?: string; updatedAt?: string }>> {
    return Promise.all(
      streams.map(async (streamId) => {
        const item = await dynamo
          .send(new GetItemCommand({ TableName: controlTable, Key: { streamId: { S: streamId } }, ConsistentRead: true }))
          .then(
            (output) => output.Item,
            (error: unknown) => {
              // Until the first start created the table, no stream has a holder or a checkpoint.
              if (error instanceof ResourceNotFoundException) return undefined;
              throw error;
            },
          );
        return { ...(item?.leaseOwner?.S ? { owner: item.leaseOwner.S } : {}), ...(item?.updatedAt?.S ? { updatedAt: item.updatedAt.S } : {}) };
      }),
    );
  }

  it('stops cleanly on every Ctrl-C, relays within 5 s after every kind of stop, and loses nothing', async () => {
    // Kill, Ctrl-C, kill, ... and a last Ctrl-C, each while the pipeline runs; after every second round, one more
    // start is stopped while it is still starting (loading, checking the stack, creating resources, joining groups),
    // alternately by Ctrl-C and by kill. Every start that follows a stop must relay within the limit.
    const kinds = Array.from({ length: ROUNDS * 2 + 1 }, (_, index) => (index % 2 === 0 && index < ROUNDS * 2 ? 'SIGKILL' : 'SIGINT') as NodeJS.Signals);
    /** Launch to both streams relaying, per round, with the one-minute load average then. */
    const rounds: Array<{ round: number; after: string; relayingMs: number; load: number }> = [];
    const slow: string[] = [];
    const stops: string[] = [];
    let previousStop = 'first start';
    let interruptedBeforeCode = 0;

    const stopAndCheck = async (run: PipelineRun, signal: NodeJS.Signals, label: string) => {
      const pid = run.child.pid ?? 0;
      process.kill(-pid, signal);
      const exit = await run.exited;
      await waitFor(`${label}: no process of the run left`, () => !groupAlive(pid), 20_000);
      stops.push(`${label}: ${JSON.stringify(exit)}`);
      previousStop = label;
      if (signal === 'SIGINT' && exit.signal === 'SIGINT' && run.lines.length === 0 && run.stderr() === '') {
        // Before Node.js ran any of the runtime's code no handler can exist yet: the process ends by the signal, and
        // there is nothing to stop. Only that, with no output at all, is accepted; it is counted in the report.
        interruptedBeforeCode++;
        expect((await checkpoints()).map((checkpoint) => checkpoint.owner)).toEqual([undefined, undefined]);
      } else if (signal === 'SIGINT') {
        // Ctrl-C: a clean stop with status 0, every lease released, whatever it was doing.
        expect({ label, exit }, run.stderr()).toEqual({ label, exit: { code: 0, signal: null } });
        expect(run.event('local.stopped')).toMatchObject({ reason: 'SIGINT', clean: true, exitCode: 0 });
        expect((await checkpoints()).map((checkpoint) => checkpoint.owner)).toEqual([undefined, undefined]);
      } else {
        expect({ label, exit }).toEqual({ label, exit: { code: null, signal: 'SIGKILL' } });
      }
    };

    for (const [round, signal] of kinds.entries()) {
      // Act: start with the demo writing; both streams must be relaying under its pid within the limit of the launch,
      // which is when the user pressed Enter. Every round's time is kept and the limit checked after the last round,
      // so a slow round still leaves the whole record.
      const spawnedAt = Date.now();
      const run = startPipeline('node', ['--demo', '--rate', '40'], env);
      const pid = run.child.pid ?? 0;
      await waitFor(
        `round ${round}: both streams relaying under pid ${pid} (after ${previousStop})`,
        async () =>
          (await checkpoints()).every(
            (checkpoint) => parseLocalOwner(checkpoint.owner ?? '')?.pid === pid && Date.parse(checkpoint.updatedAt ?? '') >= spawnedAt,
          ),
        // Only a start that never relays ends the run here; how soon it relayed is checked below.
        240_000,
      );
      const relayingMs = Date.now() - spawnedAt;
      rounds.push({ round, after: previousStop, relayingMs, load: loadavg()[0] ?? 0 });
      // The very first start may still be warming a fresh stack up (and bundling the runtime); the limit is for a
      // start after a stop.
      if (round > 0 && relayingMs > RELAYING_WITHIN_MS) slow.push(`round ${round} after ${previousStop}: ${relayingMs} ms (load ${loadavg()[0]?.toFixed(1)})`);
      await new Promise((done) => setTimeout(done, Math.floor(Math.random() * 4_000)));
      await stopAndCheck(run, signal, `round ${round} ${signal} while running`);

      if (round % 2 === 1 && round < kinds.length - 1) {
        const early: NodeJS.Signals = round % 4 === 1 ? 'SIGINT' : 'SIGKILL';
        const starting = startPipeline('node', ['--demo', '--rate', '40'], env);
        // Anywhere from loading the runtime to its first relay (a start takes seconds on a busy machine).
        await new Promise((done) => setTimeout(done, Math.floor(Math.random() * 6_000)));
        await stopAndCheck(starting, early, `round ${round} ${early} while starting`);
      }
    }
    expect(rounds).toHaveLength(kinds.length);

    // Act: a bounded run drains whatever the stops left behind.
    const drain = startPipeline('node', ['--duration', '0'], env);
    expect(await drain.exited, drain.stderr()).toEqual({ code: 0, signal: null });

    // Assess: every document, exactly, in both stores.
    const stores = { mongo, dynamo, reportingTable, opensearchUrl: endpoints.opensearch(), indexTemplate };
    for (const collection of ['customers', 'orders']) expect(await expectStoresEqualMongo(stores, db, collection)).toBeGreaterThan(0);
    const afterStops = rounds.slice(1).map((entry) => entry.relayingMs).sort((a, b) => a - b);
    console.log(
      `[restarts] ${stops.length} stops, ${interruptedBeforeCode} of them a Ctrl-C before any code ran (${stops.join('; ')}); ` +
        `launch to relaying, after a stop: median ${afterStops[Math.floor(afterStops.length / 2)]} ms, max ${afterStops.at(-1)} ms; ` +
        `per round (ms @ load): ${rounds.map((entry) => `${entry.round}:${entry.relayingMs}@${entry.load.toFixed(1)}`).join(', ')}`,
    );
    // Assess: every start after a stop relayed within the limit, counted from its launch.
    expect(slow).toEqual([]);
  }, 60_000 + (ROUNDS * 2 + 1) * 90_000);
});
