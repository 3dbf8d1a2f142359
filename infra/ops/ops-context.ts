import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { userInfo, hostname } from 'node:os';
import { z } from 'zod';
import { DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { relayEnvShape, type StreamConfig } from '../../functions/relay/relay-config';
import { DynamoSnapshotStore } from '../../functions/relay/snapshot-store';
import { parseEnv } from '../../shared/env-config';
import { lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import type { Logger } from '../../shared/logger';
import { resolveSecretVariable } from '../../shared/secret-env';
import { UsageError } from './ops-errors';

/** KafkaJS's own warnings would interleave with command output; the commands report failures themselves. */
const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * What a command needs, built from the same variables the functions read, each only when a command asks for it: `status`
 * must work where only the control table is reachable, and `dlq` where only Kafka is.
 */
export class OpsContext {
  private dynamo: DynamoDBClient | undefined;
  private kafkaClient: (() => Promise<Kafka>) | undefined;
  private readonly mongoClients: MongoClient[] = [];

  constructor(readonly env: NodeJS.ProcessEnv) {}

  streams(): StreamConfig[] {
    return parseEnv({ CDC_STREAMS: relayEnvShape.CDC_STREAMS }, this.env).CDC_STREAMS;
  }

  /** Whether CDC_STREAMS is given; without it, commands that only touch the control table still work. */
  streamsConfigured(): boolean {
    return Boolean(this.env.CDC_STREAMS);
  }

  stream(id: string): StreamConfig {
    const streams = this.streams();
    const stream = streams.find((candidate) => candidate.id === id);
    if (!stream) {
      throw new UsageError(`unknown stream "${id}"; CDC_STREAMS configures: ${streams.map((candidate) => candidate.id).join(', ')}`);
    }
    return stream;
  }

  controlTable(): string {
    return parseEnv({ CONTROL_TABLE: relayEnvShape.CONTROL_TABLE }, this.env).CONTROL_TABLE;
  }

  checkpoints(): DynamoCheckpointStore {
    const { DYNAMODB_ENDPOINT: endpoint, AWS_REGION: region } = parseEnv(
      { DYNAMODB_ENDPOINT: z.url().optional(), AWS_REGION: z.string().optional() },
      this.env,
    );
    // Keys given in this environment win; otherwise the SDK's default chain (profile, SSO, instance role) applies.
    const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = this.env;
    const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
    this.dynamo ??= new DynamoDBClient({
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      ...(credentials ? { credentials } : {}),
    });
    return new DynamoCheckpointStore(this.dynamo, this.controlTable());
  }

  /** The snapshot requests and progress in the same control table, through the same client. */
  snapshots(): DynamoSnapshotStore {
    this.checkpoints();
    if (!this.dynamo) throw new Error('the DynamoDB client is built by checkpoints()');
    return new DynamoSnapshotStore(this.dynamo, this.controlTable());
  }

  kafka(): Promise<Kafka> {
    this.kafkaClient ??= lazyKafka(parseKafkaEnv(this.env), quietLogger, this.env);
    return this.kafkaClient();
  }

  /** The topic both sinks dead-letter to, as they read it (SINK_DEAD_LETTER_TOPIC, same default). */
  sinkDeadLetterTopic(): string {
    return this.env.SINK_DEAD_LETTER_TOPIC || 'mongo-cdc.sink-dead-letter';
  }

  async mongo(stream: StreamConfig): Promise<MongoClient> {
    const client = new MongoClient(await resolveSecretVariable(stream.uriVariable, this.env), { serverSelectionTimeoutMS: 10_000 });
    this.mongoClients.push(client);
    return client;
  }

  /** Who an operator action is recorded as: --by, else MONGO_CDC_OPERATOR, else the local user and host. */
  operator(by: string | undefined): string {
    return by || this.env.MONGO_CDC_OPERATOR || `${userInfo().username}@${hostname()}`;
  }

  async close(): Promise<void> {
    this.dynamo?.destroy();
    await Promise.all(this.mongoClients.map((client) => client.close().catch(() => undefined)));
  }
}
