import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { createControlTable, dropTable, localDynamo } from '../test/support/local-clients';
import { uniqueName } from '../test/support/unique-name';
import { phaseBundle } from './phase-bundle';
import { createServedTopics } from '../test/support/test-topics';

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  written: number;
  /** Events the relay reported relayed (acknowledged by Kafka), and what its process spent doing it. */
  relayed: number;
  relayCpuMicros: number;
  relayMaxRssBytes: number;
  samples: number;
  /** Insert to the record's create time (stamped by the relay's producer as it sends): the relay's own delay. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Insert to arrival at a consumer in the benchmark process: an upper bound that includes the consumer's own lag. */
  consumedP99Ms: number;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Writes at a steady rate while the relay (its own process, default settings, as deployed) follows the collection, and
 * times each document from just before its insert to the create time its record got from the relay's producer (and, as
 * an upper bound, to its arrival at a consumer reading the topic). The relay runs until it has relayed everything
 * written (or a drain time passes), so a slow machine shows up as latency, not as a shortfall; a shortfall that remains
 * is reported as events the relay did not relay or Kafka does not hold, which tells lateness from loss.
 */
export async function measureLatency(options: {
  ratePerSecond: number;
  seconds: number;
  nodeFlags: string[];
  /** Variables for the relay's process (RELAY_READ_THREAD). */
  env?: Record<string, string>;
}): Promise<LatencyResult> {
  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const dynamo = localDynamo();
  const table = uniqueName('latency-control');
  await createControlTable(dynamo, table);
  const db = uniqueName('latency');
  const topic = uniqueName('latency-topic');
  const kafka = new Kafka({ clientId: 'latency', brokers: endpoints.kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await createServedTopics(kafka, [topic], 3);

  const consumer = kafka.consumer({ groupId: uniqueName('latency-group'), maxWaitTimeInMs: 20 });
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const consumed: number[] = [];
  const relay = spawn(
    process.execPath,
    [
      ...options.nodeFlags,
      phaseBundle('relay-phases.ts'),
      JSON.stringify({ phase: 'follow', db, collection: 'orders', topic, table, streamId: uniqueName('latency'), events: 0, startSeconds: 0 }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...options.env } },
  );
  const lines = createInterface({ input: relay.stdout });
  const relayLines: string[] = [];
  let relayReady!: () => void;
  const ready = new Promise<void>((done) => (relayReady = done));
  lines.on('line', (line) => {
    relayLines.push(line);
    if (line === 'ready') relayReady();
  });
  const relayExit = new Promise<number | null>((done) => relay.once('exit', (code) => done(code)));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const match = /"n":\{"\$numberInt":"(\d+)"\}/.exec(String(message.value));
        const sent = match ? sentAt.get(Number(match[1])) : undefined;
        if (sent !== undefined) {
          consumed.push(Date.now() - sent);
          latencies.push(Number(message.timestamp) - sent);
        }
      },
    });
    await Promise.race([ready, relayExit.then((code) => Promise.reject(new Error(`the relay exited with ${code} before it was ready`)))]);

    const collection = mongo.db(db).collection('orders');
    const totalMs = options.seconds * 1000;
    const started = Date.now();
    let written = 0;
    while (Date.now() - started < totalMs) {
      const due = Math.floor(((Date.now() - started) / 1000) * options.ratePerSecond);
      if (written < due) {
        // What is due goes in one insertMany (one insert a round trip cannot keep 1,000/s on a busy machine), each
        // document stamped before it, so the consumer can never see an event it has no time for.
        const now = Date.now();
        const documents = [];
        for (; written < due; written++) {
          sentAt.set(written, now);
          documents.push({ n: written, note: 'x'.repeat(900) });
        }
        await collection.insertMany(documents);
      }
      await sleep(5);
    }
    relay.stdin.end(`${written}\n`);
    const code = await relayExit;
    const result = JSON.parse(relayLines.at(-1) ?? '{}') as { events?: number; cpuMicros?: number; maxRssBytes?: number };
    if (code !== 0 || result.events === undefined) throw new Error(`the relay exited with ${code}`);
    const waitUntil = Date.now() + 30_000;
    while (latencies.length < written && Date.now() < waitUntil) await sleep(100);

    if (latencies.length < written) {
      const inKafka = (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0);
      throw new Error(
        `${latencies.length} of ${written} events consumed; the relay relayed ${result.events} ` +
          `(${written - result.events} not relayed within the drain time: late, not lost), Kafka holds ${inKafka}`,
      );
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (fraction: number, values = sorted) => values[Math.min(values.length - 1, Math.floor(fraction * values.length))] ?? Number.NaN;
    return {
      ratePerSecond: options.ratePerSecond,
      seconds: options.seconds,
      written,
      relayed: result.events,
      relayCpuMicros: result.cpuMicros ?? Number.NaN,
      relayMaxRssBytes: result.maxRssBytes ?? Number.NaN,
      samples: sorted.length,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.at(-1) ?? Number.NaN,
      consumedP99Ms: at(0.99, [...consumed].sort((a, b) => a - b)),
    };
  } finally {
    if (relay.exitCode === null) relay.kill('SIGTERM');
    await consumer.disconnect();
    await admin.disconnect();
    await mongo.db(db).dropDatabase();
    await mongo.close();
    await dropTable(dynamo, table);
    dynamo.destroy();
  }
}
