import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { DynamoSnapshotStore } from '../../functions/relay/snapshot-store';
import { parseRelayEnv } from '../../functions/relay/relay-config';
import { lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import { createLogger } from '../../shared/logger';
import { DemoWorkload } from './demo-workload';

/** The demo starts with this many customers and twice as many orders, copied by the initial snapshot. */
const DEMO_SEED_CUSTOMERS = 1_000;
import { ensureIndices, ensureTable, ensureTopics } from './local-resources';
import type { RuntimeSettings } from './local-config';
import { PipelineStatus } from './pipeline-status';
import { type RelayHandler, RelayScheduler } from './relay-scheduler';
import { SinkConsumer, type SinkHandler } from './sink-consumer';

export interface RuntimeOptions {
  readonly settings: RuntimeSettings;
  readonly demo?: { readonly opsPerSecond: number; readonly database: string; readonly seedCustomers?: number };
  readonly log: (line: Record<string, unknown>) => void;
}

const SINK_MODULES = {
  dynamodb: '../../functions/sink-dynamodb/handler',
  opensearch: '../../functions/sink-opensearch/handler',
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
  private readonly dynamo: DynamoDBClient;
  private readonly store: DynamoCheckpointStore;
  private readonly snapshots: DynamoSnapshotStore;
  private demoClient: MongoClient | undefined;
  /** Kept connected for the status refresh, which runs every second. */
  private admin: Admin | undefined;
  demo: DemoWorkload | undefined;

  constructor(private readonly options: RuntimeOptions) {
    const relayEnv = parseRelayEnv();
    this.kafka = lazyKafka(parseKafkaEnv(), createLogger('mongo-cdc-local'));
    this.dynamo = new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT });
    this.store = new DynamoCheckpointStore(this.dynamo, relayEnv.CONTROL_TABLE);
    this.snapshots = new DynamoSnapshotStore(this.dynamo, relayEnv.CONTROL_TABLE);
    this.status = new PipelineStatus(
      options.settings.CDC_STREAMS.map((stream) => stream.id),
      options.settings.sinks,
    );
  }

  /** Creates what the pipeline needs and that is missing: control and reporting tables, topics, indices. */
  async prepare(): Promise<void> {
    const env = process.env;
    const created = {
      controlTable: await ensureTable(this.dynamo, env.CONTROL_TABLE ?? '', 'streamId'),
      reportingTable: this.options.settings.sinks.includes('dynamodb') ? await ensureTable(this.dynamo, env.REPORTING_TABLE ?? '', '_key', '_expiresAt') : false,
      topics: await ensureTopics(await this.kafka(), this.options.settings.CDC_STREAMS, this.options.settings.sinkTopics, env.SINK_DEAD_LETTER_TOPIC || 'mongo-cdc.sink-dead-letter'),
      indices: this.options.settings.sinks.includes('opensearch')
        ? await ensureIndices(env.OPENSEARCH_URL ?? '', env.SINK_INDEX_TEMPLATE || 'mongo-cdc-{db}-{coll}', this.options.settings.CDC_STREAMS, env.SINK_INDEX_BODY)
        : [],
    };
    this.options.log({ event: 'local.prepared', ...created });
  }

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
    for (const sink of settings.sinks) {
      const handler = (await import(SINK_MODULES[sink])).handler as SinkHandler;
      const groupId = `mongo-cdc-local-${sink}`;
      this.groups.set(sink, groupId);
      const consumer = new SinkConsumer(
        await this.kafka(),
        groupId,
        { sink, topics: settings.sinkTopics, batchSize: settings.SINK_BATCH_SIZE, batchingWindowMs: settings.SINK_BATCHING_WINDOW_SECONDS * 1000, timeoutMs: 120_000 },
        handler,
        (report) => {
          this.status.sinkInvoked(report);
          if (report.error) this.options.log({ event: 'local.sink-failed', sink, records: report.records, error: report.error });
        },
      );
      await consumer.start();
      this.consumers.push(consumer);
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
    await this.stopDemo();
    await Promise.all(this.schedulers.map((scheduler) => scheduler.stop()));
    await Promise.all(this.consumers.map((consumer) => consumer.stop()));
    this.dynamo.destroy();
  }
}
