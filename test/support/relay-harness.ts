import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka, Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../infra/stack/endpoints';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { DynamoSnapshotStore } from '../../functions/relay/snapshot-store';
import type { SnapshotReadThread } from '../../functions/relay/snapshot-deps';
import { snapshotReadModeFromEnv } from '../../functions/relay/snapshot-read-mode';
import { type ReadThread, readThreadFor } from '../../functions/relay/read-thread';
import { relayEnvShape, type StreamConfig, streamSchema } from '../../functions/relay/relay-config';
import type { SnapshotDeps } from '../../functions/relay/snapshot-step';
import type { RecordProducer } from '../../functions/relay/record-producer';
import { type RelayLimits, type RelayOutcome, relayStream } from '../../functions/relay/relay-stream';
import { relayDeps } from '../../functions/relay/relay-wiring';
import { createProducer } from '../../shared/kafka-client';
import { deadLetterTopicOf, topicsOfStream } from '../../shared/topic-naming';
import { RecordingMetrics } from '../../shared/metrics';
import { parseTopicEnv, TopicProvisioner } from '../../shared/topic-provisioner';
import { RecordingLogger } from './recording-logger';
import { createControlTable, dropTable, localDynamo, localKafka } from './local-clients';
import { uniqueName } from './unique-name';

/**
 * Where the relay under test reads snapshot chunks: as SNAPSHOT_READ_THREAD says (auto: on a thread of its own on a
 * machine with two cores or more), so the snapshot tests run both ways by setting it.
 */
export function snapshotReadThreadUnderTest(uri = endpoints.mongodbUri()): SnapshotReadThread | undefined {
  const { entry } = snapshotReadModeFromEnv();
  return entry ? { entry, uri, clientOptions: { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 } } : undefined;
}

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
  /** As the handler reads: on a worker thread per RELAY_READ_THREAD (auto: where there is more than one CPU). */
  readonly readThread = readThreadFor(relayEnvShape.RELAY_READ_THREAD.parse(process.env.RELAY_READ_THREAD), endpoints.mongodbUri());
  readonly table = uniqueName('control');
  readonly store = new DynamoCheckpointStore(this.dynamo, this.table);
  readonly snapshots = new DynamoSnapshotStore(this.dynamo, this.table);
  private producer: Producer | undefined;
  /** As in the handler: topics exist and are served before the first record goes to them. */
  readonly topics = new TopicProvisioner(async () => this.kafka, parseTopicEnv({}), new RecordingLogger());

  async setUp(): Promise<this> {
    await createControlTable(this.dynamo, this.table);
    await this.mongo.connect();
    return this;
  }

  /**
   * A stream for a test. Tests of the live stream start "from now" (`snapshot: 'never'`), so a short first run on a busy
   * machine cannot leave an initial snapshot to copy documents a later run then sees; snapshot tests ask for one.
   */
  stream(overrides: Record<string, unknown>): StreamConfig {
    return streamSchema.parse({ id: uniqueName('stream'), snapshot: 'never', ...overrides });
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
      /** The snapshot's reading thread, or none ('off'); by default as SNAPSHOT_READ_THREAD says. */
      snapshotReadThread?: SnapshotReadThread | 'off';
      /** This read thread instead of the harness's own (RELAY_READ_THREAD). */
      readThread?: ReadThread;
    } = {},
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
      const wired = relayDeps({
        store: this.store,
        producer: () => this.connectedProducer(),
        mongo: this.mongo,
        readThread: options.readThread ?? this.readThread,
        stream,
        maxRequestBytes: limits.maxRecordBytes,
        logger,
        metrics,
        control: { dynamo: this.dynamo, table: this.table },
        ...this.readThreadOption(options.snapshotReadThread),
      });
      const guarded = this.topics.guard(wired.producer, () => metrics.add('TopicMissing', 'Count', 1));
      const deps = {
        ...wired,
        producer: options.wrapProducer ? options.wrapProducer(guarded) : guarded,
        ...(wired.snapshots && options.wrapSnapshots ? { snapshots: options.wrapSnapshots(wired.snapshots) } : {}),
      };
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

  private readThreadOption(choice: SnapshotReadThread | 'off' | undefined): { snapshotReadThread?: SnapshotReadThread } {
    const thread = choice === 'off' ? undefined : (choice ?? snapshotReadThreadUnderTest());
    return thread ? { snapshotReadThread: thread } : {};
  }

  private readonly createdTopics = new Set<string>();

  /** The stream's known topics (its collection topic and dead-letter topic), created with their leaders elected. */
  private async ensureTopics(stream: StreamConfig): Promise<void> {
    const known = [...topicsOfStream(stream, stream), deadLetterTopicOf(stream)].filter(
      (topic): topic is string => typeof topic === 'string' && !this.createdTopics.has(topic),
    );
    if (known.length === 0) return;
    await this.topics.ensure(known);
    for (const topic of known) this.createdTopics.add(topic);
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

  /**
   * Runs invocation after invocation, as the schedule would, until `done` holds: a test then waits on what was
   * relayed, not on how much one invocation of a fixed budget manages on a busy machine. Returns what all runs relayed.
   */
  async runUntil(
    stream: StreamConfig,
    done: () => boolean | Promise<boolean>,
    options: { budgetMs?: number; timeoutMs?: number } = {},
  ): Promise<{ events: number; runs: number }> {
    const deadline = Date.now() + (options.timeoutMs ?? 90_000);
    let events = 0;
    let runs = 0;
    do {
      const { outcome } = await this.run(stream, options.budgetMs ?? 3_000);
      runs++;
      if (outcome.status === 'relayed') events += outcome.events;
      if (await done()) return { events, runs };
    } while (Date.now() < deadline);
    throw new Error(`stream ${stream.id}: the condition did not hold after ${runs} relay runs (${events} events relayed)`);
  }

  /** Events the stream's checkpoint has counted so far. */
  async relayedCount(streamId: string): Promise<number> {
    return (await this.store.read(streamId))?.eventsRelayed ?? 0;
  }

  async resetProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  async tearDown(): Promise<void> {
    await this.resetProducer();
    await this.topics.close();
    await dropTable(this.dynamo, this.table);
    await this.mongo.close();
    await this.readThread?.close();
    this.dynamo.destroy();
  }
}
