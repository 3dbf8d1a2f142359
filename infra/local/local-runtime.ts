import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { DynamoSnapshotStore } from '../../functions/relay/snapshot-store';
import { parseRelayEnv } from '../../functions/relay/relay-config';
import { lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import { createLogger, type Logger } from '../../shared/logger';
import { DemoWorkload } from './demo-workload';
import { LOCAL_CONTROL_TABLE } from './local-defaults';
import { releaseAbandonedLocalLeases } from './local-lease-owner';
import { ensureIndices, ensureTable, ensureTopics, pipelineTopics } from './local-resources';

import type { RuntimeSettings } from './local-config';
import { PipelineStatus } from './pipeline-status';
import { type RelayHandler, RelayScheduler } from './relay-scheduler';
import { SinkConsumer, type SinkHandler } from './sink-consumer';

/** The demo starts with this many customers and twice as many orders, copied by the initial snapshot. */
const DEMO_SEED_CUSTOMERS = 1_000;

export interface RuntimeOptions {
  readonly settings: RuntimeSettings;
  readonly demo?: { readonly opsPerSecond: number; readonly database: string; readonly seedCustomers?: number };
  /** A runtime event, and optionally a line for the person at the terminal. */
  readonly log: (line: Record<string, unknown>, text?: string) => void;
  /** Aborts waiting for services during prepare (Ctrl-C during start-up). */
  readonly signal?: AbortSignal;
}

/**
 * A sink's consumer group: one set per pipeline (per control table), so two local pipelines on other tables never share
 * a group, where each would be assigned partitions of topics only the other subscribes to.
 */
export function localGroupId(sink: string, controlTable: string): string {
  return controlTable === LOCAL_CONTROL_TABLE ? `mongo-cdc-local-${sink}` : `mongo-cdc-local-${sink}-${controlTable}`;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });

// Literal imports, loaded only for the sinks in use: a bundler sees them, and each handler reads its configuration when
// it loads, as at a Lambda cold start.
/** Like Promise.all, but settles only once every step ended, so nothing is still at work after a failure (or Ctrl-C). */
async function allOrFirstFailure<T extends readonly unknown[]>(steps: readonly [...T]): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(steps);
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

const SINK_MODULES = {
  dynamodb: () => import('../../functions/sink-dynamodb/handler'),
  opensearch: () => import('../../functions/sink-opensearch/handler'),
} as const;

/**
 * The whole pipeline in one process: the real relay handler once per stream on its schedule, each real sink handler
 * behind a consumer group shaped like its event source mapping, and optionally the demo workload writing to MongoDB.
 */
export class LocalRuntime {
  readonly status: PipelineStatus;
  private readonly schedulers: RelayScheduler[] = [];
  private readonly consumers: SinkConsumer[] = [];
  private readonly groups = new Map<string, string>();
  private readonly kafka: () => Promise<Kafka>;
  private readonly logger: Logger;
  private readonly dynamo: DynamoDBClient;
  private readonly store: DynamoCheckpointStore;
  private readonly snapshots: DynamoSnapshotStore;
  private demoClient: MongoClient | undefined;
  /** Kept connected for the status refresh, which runs every second. */
  private admin: Admin | undefined;
  /** The sinks' consumers joining their groups, started after the relays. */
  private sinksJoined: Promise<void> = Promise.resolve();
  private stopping = false;
  demo: DemoWorkload | undefined;

  constructor(private readonly options: RuntimeOptions) {
    const relayEnv = parseRelayEnv();
    this.logger = createLogger('mongo-cdc-local');
    this.kafka = lazyKafka(parseKafkaEnv(), this.logger);
    this.dynamo = new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT });
    this.store = new DynamoCheckpointStore(this.dynamo, relayEnv.CONTROL_TABLE);
    this.snapshots = new DynamoSnapshotStore(this.dynamo, relayEnv.CONTROL_TABLE);
    this.status = new PipelineStatus(
      options.settings.CDC_STREAMS.map((stream) => stream.id),
      options.settings.sinks,
    );
  }

  /**
   * Creates what the pipeline needs and that is missing (control and reporting tables, topics, indices) and frees the
   * leases a killed local run left behind. A service that does not answer is waited for, however long it takes.
   */
  async prepare(): Promise<void> {
    const env = process.env;
    const { settings } = this.options;
    // Independent steps run side by side; each is only a check when its resource exists, as after the first start.
    const [controlTable, reportingTable, topics, indices] = await allOrFirstFailure([
      this.whenAnswering('dynamodb', 'DYNAMODB_ENDPOINT', async () => {
        const made = await ensureTable(this.dynamo, env.CONTROL_TABLE ?? '', 'streamId');
        return { made, leasesTakenOver: await releaseAbandonedLocalLeases(this.dynamo, env.CONTROL_TABLE ?? '', settings.CDC_STREAMS.map((stream) => stream.id)) };
      }),
      settings.sinks.includes('dynamodb')
        ? this.whenAnswering('dynamodb', 'DYNAMODB_ENDPOINT', () => ensureTable(this.dynamo, env.REPORTING_TABLE ?? '', '_key', '_expiresAt'))
        : false,
      this.whenAnswering('kafka', 'KAFKA_BROKERS', async () =>
        ensureTopics(await this.kafka(), pipelineTopics(settings.CDC_STREAMS, settings.sinkTopics, env.SINK_DEAD_LETTER_TOPIC || 'mongo-cdc.sink-dead-letter', [settings.SINK_ON_FAILURE_TOPIC]), this.logger),
      ),
      settings.sinks.includes('opensearch')
        ? this.whenAnswering('opensearch', 'OPENSEARCH_URL', () =>
            ensureIndices(env.OPENSEARCH_URL ?? '', env.SINK_INDEX_TEMPLATE || 'mongo-cdc-{db}-{coll}', settings.CDC_STREAMS, env.SINK_INDEX_BODY),
          )
        : [],
    ]);
    const created = { controlTable: controlTable.made, reportingTable, leasesTakenOver: controlTable.leasesTakenOver, topics, indices };
    const made = [
      ...(created.controlTable ? [`table ${env.CONTROL_TABLE}`] : []),
      ...(created.reportingTable ? [`table ${env.REPORTING_TABLE}`] : []),
      ...created.topics.map((topic) => `topic ${topic}`),
      ...created.indices.map((index) => `index ${index}`),
    ];
    this.options.log({ event: 'local.prepared', ...created }, made.length > 0 ? `created ${made.join(', ')}` : 'tables, topics and indices in place');
    for (const { streamId, owner } of created.leasesTakenOver) {
      this.options.log({ event: 'local.lease-taken-over', streamId, owner }, `${streamId}: took over the lease a stopped run (${owner}) left behind`);
    }
  }

  /** Runs a set-up step, retrying it while the service does not answer; only a programming error ends the wait. */
  private async whenAnswering<T>(service: string, variable: string, step: () => Promise<T>): Promise<T> {
    let toldAt = 0;
    for (;;) {
      try {
        return await step();
      } catch (error) {
        if (error instanceof TypeError || error instanceof RangeError || this.options.signal?.aborted) throw error;
        if (Date.now() - toldAt >= 10_000) {
          toldAt = Date.now();
          const message = (error as Error).message;
          this.options.log(
            { event: 'local.waiting', service, variable, error: message },
            `waiting for ${service} (${variable}=${process.env[variable] ?? ''}): ${message}`,
          );
        }
        await sleep(2_000, this.options.signal);
      }
    }
  }

  /**
   * Starts the relays first, then lets the sinks' consumers join their groups in the background: a group that a killed
   * run's members still belong to waits out their session timeout (about 30 s) before it rebalances, and the relays
   * never depend on the sinks, so a start after any stop relays at once.
   */
  async start(): Promise<void> {
    const { settings } = this.options;
    // The handlers read their configuration at module load, exactly as at a Lambda cold start.
    const relay = (await import('../../functions/relay/handler')).handler as RelayHandler;
    for (const stream of settings.CDC_STREAMS) {
      const scheduler = new RelayScheduler(
        stream.id,
        relay,
        settings.RELAY_SCHEDULE_SECONDS * 1000,
        settings.RELAY_TIMEOUT_SECONDS * 1000,
        (report) => {
          this.status.relayEnded(report);
          this.options.log({ event: 'local.relay-invocation', streamId: report.streamId, durationMs: report.durationMs, outcome: report.outcome, error: report.error });
        },
        (streamId) => this.status.relayStarted(streamId),
      );
      this.schedulers.push(scheduler);
    }
    if (this.options.demo) {
      this.demoClient = new MongoClient(process.env.MONGODB_URI ?? '');
      this.demo = new DemoWorkload(this.demoClient, this.options.demo.database, this.options.demo.opsPerSecond);
      // Existing documents before the relay's first run: they reach the stores through the initial snapshot.
      const seeded = await this.demo.seed(this.options.demo.seedCustomers ?? DEMO_SEED_CUSTOMERS);
      if (seeded > 0) this.options.log({ event: 'local.demo-seeded', database: this.options.demo.database, documents: seeded });
    }
    for (const scheduler of this.schedulers) scheduler.start();
    this.demo?.start((error) => this.options.log({ event: 'local.demo-failed', error: error.message }));
    // Each consumer reports joining its group (local.sink-consumer-joined); the status view shows the ones still joining.
    this.sinksJoined = Promise.all(settings.sinks.map((sink) => this.startSink(sink))).then(() => undefined);
  }

  /** One sink's consumer; a consumer that cannot join yet (Kafka away) keeps trying, as a restarted one does. */
  private async startSink(sink: keyof typeof SINK_MODULES): Promise<void> {
    const { settings } = this.options;
    const handler = (await SINK_MODULES[sink]()).handler as SinkHandler;
    const groupId = localGroupId(sink, process.env.CONTROL_TABLE ?? '');
    this.groups.set(sink, groupId);
    const kafka = await this.kafka();
    // Nothing awaited between this check and the push, so stop() sees every consumer that was created.
    if (this.stopping) return;
    const consumer = new SinkConsumer(
      kafka,
      groupId,
      {
        sink,
        topics: settings.sinkTopics,
        batchSize: settings.SINK_BATCH_SIZE,
        batchingWindowMs: settings.SINK_BATCHING_WINDOW_SECONDS * 1000,
        timeoutMs: 120_000,
        maxRetryAttempts: settings.SINK_MAX_RETRY_ATTEMPTS,
        onFailureTopic: settings.SINK_ON_FAILURE_TOPIC,
      },
      handler,
      (report) => {
        this.status.sinkInvoked(report);
        if (report.error) this.options.log({ event: 'local.sink-failed', sink, records: report.records, error: report.error });
      },
      (event) => {
        this.status.consumerEvent(event);
        this.options.log({ event: `local.sink-consumer-${event.kind}`, sink, detail: event.detail });
      },
    );
    this.consumers.push(consumer);
    await consumer.join();
  }

  async refreshStatus(): Promise<void> {
    if (!this.admin) {
      const admin = (await this.kafka()).admin();
      await admin.connect();
      this.admin = admin;
    }
    const admin = this.admin;
    const topics = async () =>
      (await admin.listTopics()).filter((topic) =>
        this.options.settings.sinkTopics.some((wanted) => (typeof wanted === 'string' ? wanted === topic : wanted.test(topic))),
      );
    try {
      await this.status.refresh(this.store, admin, this.groups, topics, this.snapshots);
    } catch (error) {
      // A broken connection is rebuilt by the next refresh.
      this.admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async stopDemo(): Promise<void> {
    await this.demo?.stop();
    await this.demoClient?.close();
    this.demoClient = undefined;
  }

  /** Leaves Kafka after the last status refresh. */
  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }

  /** Clean shutdown: no new writes, relays end at a batch boundary with their checkpoint, sinks finish or abandon their batch. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopDemo();
    await Promise.all(this.schedulers.map((scheduler) => scheduler.stop()));
    // A consumer still joining its group is not waited for (it may be waiting out a killed run's session): stop
    // disconnects it mid-join. startSink adds no consumer once stopping is set.
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    await this.sinksJoined.catch(() => undefined);
    this.dynamo.destroy();
  }
}
