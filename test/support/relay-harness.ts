import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka, Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../infra/stack/endpoints';
import { openChangeSource, serverOperationTime } from '../../functions/relay/change-source';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { DynamoSnapshotStore } from '../../functions/relay/snapshot-store';
import { KafkaRecordProducer } from '../../functions/relay/record-producer';
import { type StreamConfig, streamSchema } from '../../functions/relay/relay-config';
import { mongoSnapshotDeps } from '../../functions/relay/snapshot-deps';
import type { SnapshotDeps } from '../../functions/relay/snapshot-step';
import type { RecordProducer } from '../../functions/relay/record-producer';
import { type RelayLimits, type RelayOutcome, relayStream } from '../../functions/relay/relay-stream';
import { RecordingMetrics } from '../../shared/metrics';
import { RecordingLogger } from './recording-logger';
import { createControlTable, dropTable, localDynamo, localKafka } from './local-clients';
import { uniqueName } from './unique-name';

export const DEFAULT_LIMITS: RelayLimits = {
  maxRecordBytes: 1_048_588,
  idleCheckpointMs: 30_000,
  safetyMarginMs: 500,
  leaseGraceMs: 2_000,
};

/** The relay wired to the real local services, as the handler wires it, with a countdown instead of a Lambda context. */
export class RelayHarness {
  readonly dynamo: DynamoDBClient = localDynamo();
  readonly kafka: Kafka = localKafka('relay-test');
  readonly mongo = new MongoClient(endpoints.mongodbUri());
  readonly table = uniqueName('control');
  readonly store = new DynamoCheckpointStore(this.dynamo, this.table);
  readonly snapshots = new DynamoSnapshotStore(this.dynamo, this.table);
  private producer: Producer | undefined;

  async setUp(): Promise<this> {
    await createControlTable(this.dynamo, this.table);
    await this.mongo.connect();
    return this;
  }

  /** Creates topics before the relay writes to them, so no test races a broker's topic auto-creation. */
  async createTopics(...topics: string[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  stream(overrides: Record<string, unknown>): StreamConfig {
    return streamSchema.parse({ id: uniqueName('stream'), ...overrides });
  }

  async run(
    stream: StreamConfig,
    budgetMs: number,
    options: {
      owner?: string;
      limits?: Partial<RelayLimits>;
      logger?: RecordingLogger;
      metrics?: RecordingMetrics;
      /** Lets a test step between the snapshot's reads (changes during a chunk, a drop, a crash). */
      wrapSnapshots?: (deps: SnapshotDeps) => SnapshotDeps;
      wrapProducer?: (producer: RecordProducer) => RecordProducer;
    } = {},
  ): Promise<{ outcome: RelayOutcome; logger: RecordingLogger; metrics: RecordingMetrics; elapsedMs: number }> {
    const logger = options.logger ?? new RecordingLogger();
    const metrics = options.metrics ?? new RecordingMetrics();
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const started = Date.now();
    const deadline = started + budgetMs;
    if (!this.producer) {
      // Few, short retries: the broker-outage test wants the failure promptly, as the handler's producer gives it.
      this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 2, maxRetryTime: 2_000 } });
      await this.producer.connect();
    }
    try {
      const outcome = await relayStream(
        {
          store: this.store,
          producer: (options.wrapProducer ?? ((producer) => producer))(new KafkaRecordProducer(this.producer, limits.maxRecordBytes)),
          openSource: (resume) => openChangeSource(this.mongo, stream, resume, stream.batch.maxWaitMs || 1),
          serverTime: () => serverOperationTime(this.mongo),
          logger,
          metrics,
          snapshots: (options.wrapSnapshots ?? ((deps) => deps))(mongoSnapshotDeps(this.mongo, stream, this.dynamo, this.table)),
        },
        stream,
        limits,
        { owner: options.owner ?? uniqueName('invocation'), remainingMs: () => deadline - Date.now() },
      );
      return { outcome, logger, metrics, elapsedMs: Date.now() - started };
    } catch (error) {
      await this.resetProducer();
      throw error;
    }
  }

  async resetProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  async tearDown(): Promise<void> {
    await this.resetProducer();
    await dropTable(this.dynamo, this.table);
    await this.mongo.close();
    this.dynamo.destroy();
  }
}
