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
import { RELAY_MONGO_CLIENT_OPTIONS } from './change-source';
import { DynamoCheckpointStore } from './checkpoint-store';
import { readThreadFor, type ReadThread } from './read-thread';
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
const mongoClients = new Map<string, { readonly client: MongoClient; readonly uri: string; readonly readThread: ReadThread | undefined }>();
const relayProducer = new LazyProducer(async () => createProducer(await kafka()));
// Snapshot chunks read and encoded on a thread of their own where there is a vCPU for it (SNAPSHOT_READ_THREAD).
const snapshotRead = snapshotReadMode(env.SNAPSHOT_READ_THREAD);
// Logged by the container's first invocation (module loading stays silent).
let readModeLogged = false;

// The snapshot's reading thread has its own client: one chunk read at a time, and one read ahead.
const SNAPSHOT_READ_CLIENT_OPTIONS: MongoClientOptions = { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 };

/**
 * The client for a connection string, and its read thread when RELAY_READ_THREAD asks for one (with its own client:
 * the resolved connection string goes to it in workerData, never to a log), both kept for warm invocations. The
 * connection string is kept too, for the snapshot's reading thread (SNAPSHOT_READ_THREAD), started per invocation.
 */
async function mongoClientFor(uriVariable: string): Promise<{ readonly client: MongoClient; readonly uri: string; readonly readThread: ReadThread | undefined }> {
  let clients = mongoClients.get(uriVariable);
  if (!clients) {
    const connectionString = await resolveSecretVariable(uriVariable);
    clients = {
      client: new MongoClient(connectionString, RELAY_MONGO_CLIENT_OPTIONS),
      uri: connectionString,
      readThread: readThreadFor(env.RELAY_READ_THREAD, connectionString),
    };
    mongoClients.set(uriVariable, clients);
  }
  return clients;
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
    readThread: mongo.readThread,
    stream,
    maxRequestBytes: env.KAFKA_MAX_MESSAGE_BYTES,
    logger,
    metrics,
    control: { dynamo, table: env.CONTROL_TABLE },
    // The connection string goes to the thread as it is, never into a log line.
    ...(snapshotRead.entry ? { snapshotReadThread: { entry: snapshotRead.entry, uri: mongo.uri, clientOptions: SNAPSHOT_READ_CLIENT_OPTIONS } } : {}),
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
