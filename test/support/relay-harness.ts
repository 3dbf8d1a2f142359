import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka, Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../infra/stack/endpoints';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { type StreamConfig, streamSchema } from '../../functions/relay/relay-config';
import { type RelayLimits, type RelayOutcome, relayStream } from '../../functions/relay/relay-stream';
import { relayDeps } from '../../functions/relay/relay-wiring';
import { createProducer } from '../../shared/kafka-client';
import { deadLetterTopicOf, topicsOfStream } from '../../shared/topic-naming';
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
  private producer: Producer | undefined;

  async setUp(): Promise<this> {
    await createControlTable(this.dynamo, this.table);
    await this.mongo.connect();
    return this;
  }

  stream(overrides: Record<string, unknown>): StreamConfig {
    return streamSchema.parse({ id: uniqueName('stream'), ...overrides });
  }

  async run(
    stream: StreamConfig,
    budgetMs: number,
    options: { owner?: string; limits?: Partial<RelayLimits>; logger?: RecordingLogger; metrics?: RecordingMetrics } = {},
  ): Promise<{ outcome: RelayOutcome; logger: RecordingLogger; metrics: RecordingMetrics; elapsedMs: number }> {
    const logger = options.logger ?? new RecordingLogger();
    const metrics = options.metrics ?? new RecordingMetrics();
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    // Topics exist and the producer is connected before the clock starts, as in a deployed stage: the budget is the
    // relay's own, and no test races a topic's creation.
    await this.ensureTopics(stream);
    await this.connectedProducer();
    const started = Date.now();
    const deadline = started + budgetMs;
    try {
      const deps = relayDeps({
        store: this.store,
        producer: () => this.connectedProducer(),
        mongo: this.mongo,
        stream,
        maxRequestBytes: limits.maxRecordBytes,
        logger,
        metrics,
      });
      const outcome = await relayStream(deps, stream, limits, {
        owner: options.owner ?? uniqueName('invocation'),
        remainingMs: () => deadline - Date.now(),
      });
      return { outcome, logger, metrics, elapsedMs: Date.now() - started };
    } catch (error) {
      await this.resetProducer();
      throw error;
    }
  }

  private readonly createdTopics = new Set<string>();

  /** The stream's known topics (its collection topic and dead-letter topic), created with their leaders elected. */
  private async ensureTopics(stream: StreamConfig): Promise<void> {
    const known = [...topicsOfStream(stream, stream), deadLetterTopicOf(stream)].filter(
      (topic): topic is string => typeof topic === 'string' && !this.createdTopics.has(topic),
    );
    if (known.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = known.filter((topic) => !existing.has(topic));
      if (missing.length > 0) await admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true });
      for (const topic of known) this.createdTopics.add(topic);
    } finally {
      await admin.disconnect();
    }
  }

  private async connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      // Few, short retries: the broker-outage test wants the failure promptly, as the handler's producer gives it.
      const producer = createProducer(this.kafka, { retries: 2, maxRetryTime: 2_000 });
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
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
