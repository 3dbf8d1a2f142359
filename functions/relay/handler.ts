import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { MongoClient } from 'mongodb';
import { LazyProducer } from '../../shared/lazy-producer';
import { CdcError } from '../../shared/errors';
import { lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import { createLogger } from '../../shared/logger';
import { resolveSecretVariable } from '../../shared/secret-env';
import { createMetrics } from '../../shared/metrics';
import { Murmur2Partitioner } from '../../shared/murmur2-partitioner';
import { openChangeSource, serverOperationTime } from './change-source';
import { DynamoCheckpointStore } from './checkpoint-store';
import { KafkaRecordProducer } from './record-producer';
import { parseRelayEnv } from './relay-config';
import { type RelayOutcome, relayStream } from './relay-stream';
import { resetStream, type RelayInput, streamFor } from './relay-input';

// Parsed once per container: a misconfigured function fails at cold start, naming the variable.
const env = parseRelayEnv();
const kafkaSettings = parseKafkaEnv();
const logger = createLogger('mongo-cdc-relay');
const store = new DynamoCheckpointStore(
  new DynamoDBClient(process.env.DYNAMODB_ENDPOINT ? { endpoint: process.env.DYNAMODB_ENDPOINT } : {}),
  env.CONTROL_TABLE,
);
const kafka = lazyKafka(kafkaSettings, logger);
const mongoClients = new Map<string, MongoClient>();
// Idempotent with one request in flight: KafkaJS marks higher concurrency unsafe for idempotence. Retries are bounded
// so a lost broker fails the invocation (and the next one resends) instead of hanging until the deadline. The murmur2
// partitioner puts every key where KafkaJS's (and Java's) default partitioner would, at a fraction of its CPU.
const relayProducer = new LazyProducer(async () =>
  (await kafka()).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 5, maxRetryTime: 5_000 },
    createPartitioner: Murmur2Partitioner,
  }),
);

async function mongoClientFor(uriVariable: string): Promise<MongoClient> {
  let client = mongoClients.get(uriVariable);
  if (!client) {
    // One small pool per connection string, reused by warm invocations; the driver reconnects on its own.
    client = new MongoClient(await resolveSecretVariable(uriVariable), { maxPoolSize: 4, serverSelectionTimeoutMS: 10_000 });
    mongoClients.set(uriVariable, client);
  }
  return client;
}


export async function handler(input: RelayInput | undefined, context: Context): Promise<RelayOutcome | { status: 'reset' }> {
  const stream = streamFor(env, input);
  if (input?.action === 'reset') {
    await resetStream(store, stream.id, input, logger);
    return { status: 'reset' };
  }
  const metrics = createMetrics('mongo-cdc-relay', { StreamId: stream.id });
  const kafkaProducer = new KafkaRecordProducer(await relayProducer.get(), env.KAFKA_MAX_MESSAGE_BYTES);
  const mongoClient = await mongoClientFor(stream.uriVariable);
  try {
    return await relayStream(
      {
        store,
        producer: kafkaProducer,
        openSource: (resume) => openChangeSource(mongoClient, stream, resume, stream.batch.maxWaitMs || 1),
        serverTime: () => serverOperationTime(mongoClient),
        logger,
        metrics,
      },
      stream,
      {
        maxRecordBytes: env.KAFKA_MAX_MESSAGE_BYTES,
        idleCheckpointMs: env.RELAY_IDLE_CHECKPOINT_MS,
        safetyMarginMs: env.RELAY_SAFETY_MARGIN_MS,
        leaseGraceMs: env.RELAY_LEASE_GRACE_MS,
      },
      { owner: context.awsRequestId, remainingMs: () => context.getRemainingTimeInMillis() },
    );
  } catch (error) {
    if (error instanceof CdcError && error.code === 'KAFKA_PRODUCE_FAILED') await relayProducer.drop();
    throw error;
  }
}
