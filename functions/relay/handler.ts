import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { LazyProducer } from '../../shared/lazy-producer';
import { CdcError } from '../../shared/errors';
import { createProducer, lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import { createLogger } from '../../shared/logger';
import { resolveSecretVariable } from '../../shared/secret-env';
import { createMetrics } from '../../shared/metrics';
import { parseTopicEnv, TopicProvisioner } from '../../shared/topic-provisioner';
import { DynamoCheckpointStore } from './checkpoint-store';
import { parseRelayEnv } from './relay-config';
import { type RelayOutcome, relayStream } from './relay-stream';
import { resetStream, type RelayInput, streamFor } from './relay-input';
import { relayDeps, relayLimits } from './relay-wiring';
import { describeReadMode, snapshotReadMode } from './snapshot-read-mode';

// Parsed once per container: a misconfigured function fails at cold start, naming the variable.
const env = parseRelayEnv();
const kafkaSettings = parseKafkaEnv();
const logger = createLogger('mongo-cdc-relay');
const dynamo = new DynamoDBClient(process.env.DYNAMODB_ENDPOINT ? { endpoint: process.env.DYNAMODB_ENDPOINT } : {});
const store = new DynamoCheckpointStore(dynamo, env.CONTROL_TABLE);
const kafka = lazyKafka(kafkaSettings, logger);
// Topics exist before the first record is produced to them (created, or TOPIC_MISSING when creation is not allowed).
const topics = new TopicProvisioner(kafka, parseTopicEnv(), logger);
const mongoClients = new Map<string, { client: MongoClient; uri: string }>();
const relayProducer = new LazyProducer(async () => createProducer(await kafka()));
// Snapshot chunks read and encoded on a thread of their own where there is a vCPU for it (SNAPSHOT_READ_THREAD).
const snapshotRead = snapshotReadMode(env.SNAPSHOT_READ_THREAD);
// Logged by the container's first invocation (module loading stays silent).
let readModeLogged = false;

const MONGO_CLIENT_OPTIONS: MongoClientOptions = { maxPoolSize: 4, serverSelectionTimeoutMS: 10_000 };
// The snapshot's reading thread has its own client: one chunk read at a time, and one read ahead.
const READ_THREAD_CLIENT_OPTIONS: MongoClientOptions = { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 };

async function mongoClientFor(uriVariable: string): Promise<{ client: MongoClient; uri: string }> {
  let entry = mongoClients.get(uriVariable);
  if (!entry) {
    // One small pool per connection string, reused by warm invocations; the driver reconnects on its own.
    const uri = await resolveSecretVariable(uriVariable);
    entry = { client: new MongoClient(uri, MONGO_CLIENT_OPTIONS), uri };
    mongoClients.set(uriVariable, entry);
  }
  return entry;
}

export async function handler(input: RelayInput | undefined, context: Context): Promise<RelayOutcome | { status: 'reset' }> {
  const stream = streamFor(env, input);
  if (input?.action === 'reset') {
    await resetStream(store, stream.id, input, logger);
    return { status: 'reset' };
  }
  const metrics = createMetrics('mongo-cdc-relay', { StreamId: stream.id });
  if (!readModeLogged) {
    readModeLogged = true;
    logger.info({ event: 'relay.snapshot-read-mode', ...describeReadMode(snapshotRead) });
  }
  const mongo = await mongoClientFor(stream.uriVariable);
  const deps = relayDeps({
    store,
    // Connected at the first send: an invocation that finds the lease held never touches Kafka.
    producer: () => relayProducer.get(),
    mongo: mongo.client,
    stream,
    maxRequestBytes: env.KAFKA_MAX_MESSAGE_BYTES,
    logger,
    metrics,
    control: { dynamo, table: env.CONTROL_TABLE },
    // The connection string goes to the thread as it is, never into a log line.
    ...(snapshotRead.entry ? { snapshotReadThread: { entry: snapshotRead.entry, uri: mongo.uri, clientOptions: READ_THREAD_CLIENT_OPTIONS } } : {}),
  });
  try {
    const guarded = { ...deps, producer: topics.guard(deps.producer, () => metrics.add('TopicMissing', 'Count', 1)) };
    return await relayStream(guarded, stream, relayLimits(env), {
      owner: context.awsRequestId,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
  } catch (error) {
    if (error instanceof CdcError && error.code === 'KAFKA_PRODUCE_FAILED') await relayProducer.drop();
    throw error;
  }
}
