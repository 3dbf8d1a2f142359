import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { DynamoCheckpointStore } from '../functions/relay/checkpoint-store';
import { streamSchema } from '../functions/relay/relay-config';
import { relayStream } from '../functions/relay/relay-stream';
import { relayDeps } from '../functions/relay/relay-wiring';
import { createProducer } from '../shared/kafka-client';
import type { Logger } from '../shared/logger';
import { RecordingMetrics } from '../shared/metrics';
import { createControlTable, dropTable, localDynamo } from '../test/support/local-clients';
import { uniqueName } from '../test/support/unique-name';

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Writes at a steady rate while the relay runs with default settings, and times each document from the acknowledged
 * insert to its arrival at a consumer reading the topic: an upper bound on commit-to-Kafka-ack latency.
 */
export async function measureLatency(options: { ratePerSecond: number; seconds: number }): Promise<LatencyResult> {
  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const dynamo = localDynamo();
  const table = uniqueName('latency-control');
  await createControlTable(dynamo, table);
  const db = uniqueName('latency');
  const topic = uniqueName('latency-topic');
  const stream = streamSchema.parse({ id: uniqueName('latency'), database: db, collection: 'orders', topics: { [`${db}.orders`]: topic } });
  const kafka = new Kafka({ clientId: 'latency', brokers: endpoints.kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  // The deployed producer (shared/kafka-client.ts), so the benchmark measures what runs in Lambda.
  const producer = createProducer(kafka);
  await producer.connect();
  const consumer = kafka.consumer({ groupId: uniqueName('latency-group'), maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const committedAt = new Map<number, number>();
  const latencies: number[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      const match = /"n":\{"\$numberInt":"(\d+)"\}/.exec(String(message.value));
      const sent = match ? committedAt.get(Number(match[1])) : undefined;
      if (sent !== undefined) latencies.push(Date.now() - sent);
    },
  });

  const store = new DynamoCheckpointStore(dynamo, table);
  const metrics = new RecordingMetrics();
  const totalMs = options.seconds * 1000;
  const relayDeadline = Date.now() + totalMs + 5_000;
  const relay = relayStream(
    relayDeps({ store, producer: async () => producer, mongo, stream, maxRequestBytes: 1_048_588, logger: quiet, metrics }),
    stream,
    { maxRecordBytes: 1_048_588, idleCheckpointMs: 30_000, safetyMarginMs: 500, leaseGraceMs: 1_000 },
    { owner: 'latency', remainingMs: () => relayDeadline - Date.now() },
  );
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // the relay is polling before the first write

  const collection = mongo.db(db).collection('orders');
  const started = Date.now();
  let written = 0;
  while (Date.now() - started < totalMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * options.ratePerSecond);
    while (written < due) {
      const n = written++;
      await collection.insertOne({ n, note: 'x'.repeat(900) });
      committedAt.set(n, Date.now());
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await relay;
  const waitUntil = Date.now() + 10_000;
  while (latencies.length < written && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 100));
  await consumer.disconnect();
  await producer.disconnect();
  await mongo.db(db).dropDatabase();
  await mongo.close();
  await dropTable(dynamo, table);
  dynamo.destroy();

  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
  if (sorted.length < written) throw new Error(`only ${sorted.length} of ${written} events reached Kafka`);
  return { ratePerSecond: options.ratePerSecond, seconds: options.seconds, samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? Number.NaN };
}
