import type { Admin, Kafka } from 'kafkajs';
import { z } from 'zod';
import { parseEnv } from './env-config';
import { CdcError } from './errors';
import type { Logger } from './logger';

export const topicEnvShape = {
  /**
   * create: a missing topic is created with the settings below before anything is produced to it (brokers that
   * auto-create would otherwise make it with their defaults, racing the first produce). require: a missing topic fails
   * the invocation with TOPIC_MISSING (Amazon MSK has auto-creation off and the role may lack CreateTopic).
   */
  KAFKA_TOPIC_CREATION: z.enum(['create', 'require']).default('create'),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().positive().max(10_000).default(3),
  /** -1: the brokers' default.replication.factor (MSK sets it per cluster size). */
  KAFKA_TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(-1).max(32).refine((value) => value !== 0, 'must be -1 or at least 1').default(-1),
  /** min.insync.replicas of created topics; unset: the brokers' default. With acks=all it bounds what a write survives. */
  KAFKA_TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().positive().max(32).optional(),
  /** How long to wait for a created topic's partitions to accept records. */
  KAFKA_TOPIC_READY_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
};

export type TopicSettings = ReturnType<typeof parseTopicEnv>;

export function parseTopicEnv(env: NodeJS.ProcessEnv = process.env) {
  return parseEnv(topicEnvShape, env);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Makes sure topics exist, with the configured partitions, replication and min.insync.replicas, before anything is
 * produced to them, and that every partition has a leader that serves it ("This server does not host this
 * topic-partition" is what a produce gets otherwise, right after creation on a busy broker). Topics seen once are
 * remembered, so a warm invocation asks Kafka nothing.
 */
export class TopicProvisioner {
  private readonly known = new Set<string>();
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: () => Promise<Kafka>,
    private readonly settings: TopicSettings,
    private readonly logger: Logger,
  ) {}

  /** Returns the topics it created. Throws TOPIC_MISSING when some are missing and creation is not allowed. */
  async ensure(topics: Iterable<string>): Promise<string[]> {
    const wanted = [...new Set(topics)].filter((topic) => !this.known.has(topic));
    if (wanted.length === 0) return [];
    try {
      const admin = await this.connectedAdmin();
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((topic) => !existing.has(topic));
      if (missing.length > 0 && this.settings.KAFKA_TOPIC_CREATION === 'require') {
        this.logger.error({ event: 'topics.missing', topics: missing });
        throw new CdcError(
          'TOPIC_MISSING',
          `Kafka topic(s) ${missing.join(', ')} do not exist and KAFKA_TOPIC_CREATION=require forbids creating them: ` +
            'create them (npx mongo-cdc topics create) or allow creation (KAFKA_TOPIC_CREATION=create, with CreateTopic permission)',
        );
      }
      if (missing.length > 0) {
        const { KAFKA_TOPIC_PARTITIONS: numPartitions, KAFKA_TOPIC_REPLICATION_FACTOR: replicationFactor, KAFKA_TOPIC_MIN_INSYNC_REPLICAS: minInsync } = this.settings;
        // false when another process created some of them first: that is fine, they exist either way. Not
        // waitForLeaders: KafkaJS then reads metadata once and retries only LEADER_NOT_AVAILABLE, so a busy broker that
        // has not yet propagated the new topic ("This server does not host this topic-partition") failed a creation
        // that had succeeded; untilServed below waits for the partitions with backoff instead.
        await admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((topic) => ({
            topic,
            numPartitions,
            replicationFactor,
            ...(minInsync ? { configEntries: [{ name: 'min.insync.replicas', value: String(minInsync) }] } : {}),
          })),
        }).catch((error: unknown) => {
          if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS' && !String((error as Error).message).includes('already exists')) throw error;
        });
        this.logger.info({ event: 'topics.created', topics: missing, numPartitions, replicationFactor, minInsyncReplicas: minInsync });
      }
      await this.untilServed(admin, wanted);
      for (const topic of wanted) this.known.add(topic);
      return missing;
    } catch (error) {
      if (!(error instanceof CdcError)) await this.dropAdmin();
      throw error;
    }
  }

  /** Every partition answers a ListOffsets from its leader: the broker really hosts it. */
  private async untilServed(admin: Admin, topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + this.settings.KAFKA_TOPIC_READY_TIMEOUT_MS;
    for (const topic of topics) {
      for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
        try {
          const partitions = await admin.fetchTopicOffsets(topic);
          if (partitions.length > 0) break;
        } catch (error) {
          if (Date.now() + delay > deadline) {
            throw new Error(`Kafka topic ${topic} exists but its partitions did not become available within ${this.settings.KAFKA_TOPIC_READY_TIMEOUT_MS} ms: ${(error as Error).message}`, { cause: error });
          }
        }
        await sleep(delay);
      }
    }
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = (await this.kafka()).admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => {
      this.admin = undefined;
    });
    return this.admin;
  }

  private async dropAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((connected) => connected.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.dropAdmin();
  }

  /**
   * A producer that ensures its records' topics before each send: the relay's only hook. `onMissing` counts a
   * TOPIC_MISSING refusal (the relay's TopicMissing metric).
   */
  guard<R extends { readonly topic: string }>(
    producer: { send(records: readonly R[]): Promise<void> },
    onMissing: () => void = () => undefined,
  ): { send(records: readonly R[]): Promise<void> } {
    return {
      send: async (records) => {
        try {
          await this.ensure(records.map((record) => record.topic));
        } catch (error) {
          if (error instanceof CdcError && error.code === 'TOPIC_MISSING') onMissing();
          throw error;
        }
        try {
          await producer.send(records);
        } catch (error) {
          // A topic deleted since it was checked looks like this too: check again before the next send.
          this.known.clear();
          throw error;
        }
      },
    };
  }
}
