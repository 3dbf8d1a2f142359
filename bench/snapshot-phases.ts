// One snapshot benchmark phase per process, so each phase's peak RSS and CPU time are its own. Prints one JSON line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { type Document, MongoClient } from 'mongodb';
import { DynamoCheckpointStore } from '../functions/relay/checkpoint-store';
import { openChangeSource, serverOperationTime } from '../functions/relay/change-source';
import { KafkaRecordProducer, type OutgoingRecord } from '../functions/relay/record-producer';
import { streamSchema } from '../functions/relay/relay-config';
import { relayStream } from '../functions/relay/relay-stream';
import { mongoSnapshotDeps, type SnapshotReadThread } from '../functions/relay/snapshot-deps';
import { snapshotReadModeFromEnv } from '../functions/relay/snapshot-read-mode';
import { recordsForCopy } from '../functions/relay/snapshot-records';
import { DynamoSnapshotStore } from '../functions/relay/snapshot-store';
import { endpoints } from '../infra/stack/endpoints';
import type { Logger } from '../shared/logger';
import { RecordingMetrics } from '../shared/metrics';
import { producerConfig } from '../shared/kafka-client';
import { HEADERS } from '../shared/record-format';
import { localDynamo, localKafka } from '../test/support/local-clients';
import { mainThreadCpuMicros } from './thread-cpu';

interface PhaseArgs {
  phase: 'find' | 'produce' | 'snapshot' | 'latency';
  db: string;
  collection: string;
  documents: number;
  topic: string;
  table: string;
  streamId: string;
  /** latency phase: live changes per second written while the snapshot runs. */
  rate?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as PhaseArgs;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const RAW = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;
const LIVE_MARK = 1_000_000_000;

/** BENCH_SNAPSHOT_CHUNK overrides the stream's snapshotChunkDocuments, to compare chunk sizes. */
const chunkOverride = process.env.BENCH_SNAPSHOT_CHUNK ? { snapshotChunkDocuments: Number(process.env.BENCH_SNAPSHOT_CHUNK) } : {};

function stream(extra: Record<string, unknown> = {}) {
  return streamSchema.parse({ id: args.streamId, database: args.db, collection: args.collection, topics: { [`${args.db}.${args.collection}`]: args.topic }, ...chunkOverride, ...extra });
}

/** As the relay runs it: chunks read and encoded on a thread of their own as SNAPSHOT_READ_THREAD says (auto: 2+ cores). */
const readEntry = snapshotReadModeFromEnv().entry;
const readThread: SnapshotReadThread | undefined = readEntry
  ? { entry: readEntry, uri: endpoints.mongodbUri(), clientOptions: { maxPoolSize: 2, serverSelectionTimeoutMS: 10_000 } }
  : undefined;

/** When the copy finished, and the process's CPU time then: the phase is timed to the copy, not to the invocation. */
let copyFinished: { at: number; cpu: NodeJS.CpuUsage; mainCpu: number | undefined } | undefined;
const phaseCpu = process.cpuUsage();
const phaseMainCpu = mainThreadCpuMicros();
/** Wall time the chunks spent reading, producing and saving progress (from their relay.snapshot-chunk lines). */
const chunkTimes = { chunks: 0, readMs: 0, produceMs: 0, checkpointMs: 0, chunkMs: 0 };
const quietButFinish: Logger = {
  ...quiet,
  info(event) {
    if (event.event === 'relay.snapshot-chunk') {
      chunkTimes.chunks++;
      for (const key of ['readMs', 'produceMs', 'checkpointMs', 'chunkMs'] as const) chunkTimes[key] += Number(event[key] ?? 0);
    }
    if (event.event === 'relay.snapshot-finished') copyFinished = { at: Date.now(), cpu: process.cpuUsage(phaseCpu), mainCpu: mainThreadCpuMicros() };
  },
};

/**
 * The relay over a brand-new stream with `snapshot: initial`, invocation after invocation, until the copy is done. In
 * the snapshot phase the invocation that finishes the copy ends there (its time left reads 0); in the latency phase it
 * runs its whole budget, relaying the live changes made meanwhile.
 */
async function runSnapshot(mongo: MongoClient, whileRunning?: () => boolean): Promise<number> {
  const dynamo = localDynamo();
  // The producer the relay is deployed with (its murmur2 partitioner, retries), for the copy and its baseline alike.
  const producer = localKafka('bench-snapshot').producer(producerConfig());
  await producer.connect();
  const config = stream();
  const snapshots = new DynamoSnapshotStore(dynamo, args.table);
  let copied = 0;
  for (let invocation = 0; ; invocation++) {
    const deadline = Date.now() + 60_000;
    const outcome = await relayStream(
      {
        store: new DynamoCheckpointStore(dynamo, args.table),
        producer: new KafkaRecordProducer(async () => producer, 1_048_588),
        openSource: (resume) => openChangeSource(mongo, config, resume, config.batch.maxWaitMs),
        serverTime: () => serverOperationTime(mongo),
        logger: quietButFinish,
        metrics: new RecordingMetrics(),
        snapshots: mongoSnapshotDeps(mongo, config, dynamo, args.table, readThread),
      },
      config,
      { maxRecordBytes: 1_048_588, idleCheckpointMs: 30_000, safetyMarginMs: 500, leaseGraceMs: 1_000 },
      { owner: `bench-${invocation}`, remainingMs: () => (copyFinished && args.phase === 'snapshot' ? 0 : deadline - Date.now()) },
    );
    if (outcome.status === 'relayed') copied += outcome.snapshotted;
    const record = await snapshots.readSnapshots(args.streamId);
    if (record.runs.length > 0 && !(whileRunning?.() ?? false)) break;
  }
  await producer.disconnect();
  dynamo.destroy();
  return copied;
}

/**
 * The main thread's CPU per document over a span (the rest of the process's is other threads'), also on stderr, which
 * the bench passes through: its table shows the whole process's.
 */
function threadShare(before: number | undefined, after: number | undefined, documents: number): { mainThreadCpuMicros?: number } {
  if (before === undefined || after === undefined) return {};
  console.error(`[${args.phase}] main thread CPU ${((after - before) / Math.max(1, documents)).toFixed(1)} µs/document`);
  return { mainThreadCpuMicros: after - before };
}

async function main(): Promise<void> {
  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const collection = mongo.db(args.db).collection(args.collection);
  let documents = args.documents;
  let extra: Record<string, unknown> = {};
  const cpu = phaseCpu;
  const started = Date.now();

  if (args.phase === 'find') {
    // A bare cursor over the collection in _id order, the way the snapshot reads it (raw BSON values).
    documents = 0;
    for await (const _document of collection.find({}, { ...RAW, sort: { _id: 1 }, batchSize: 1000 })) documents++;
  } else if (args.phase === 'produce') {
    // The same records the snapshot sends, read and encoded before the clock starts: only producing is timed.
    const config = stream();
    const records: OutgoingRecord[] = [];
    for await (const document of collection.find({}, { ...RAW, sort: { _id: 1 }, batchSize: 1000 })) {
      records.push(...recordsForCopy(document as Document, { db: args.db, coll: args.collection }, { seconds: 1_800_000_000, increment: 0, fromServer: true }, 'bench', config, 1_048_588).records);
    }
    const producer = localKafka('bench-produce').producer(producerConfig());
    await producer.connect();
    const sender = new KafkaRecordProducer(async () => producer, 1_048_588);
    const clock = Date.now();
    const cpuNow = process.cpuUsage();
    const mainCpuNow = mainThreadCpuMicros();
    for (let index = 0; index < records.length; index += 1000) await sender.send(records.slice(index, index + 1000));
    const cpuUsed = process.cpuUsage(cpuNow);
    const mainCpuUsed = threadShare(mainCpuNow, mainThreadCpuMicros(), records.length);
    await producer.disconnect();
    console.log(JSON.stringify({ events: records.length, ms: Date.now() - clock, cpuMicros: cpuUsed.user + cpuUsed.system, maxRssBytes: process.resourceUsage().maxRSS * 1024, ...mainCpuUsed }));
    await mongo.close();
    return;
  } else if (args.phase === 'snapshot') {
    documents = await runSnapshot(mongo);
    if (!copyFinished) throw new Error('the snapshot never logged relay.snapshot-finished');
    const { at, cpu: cpuUsed, mainCpu } = copyFinished;
    console.log(JSON.stringify({ events: documents, ms: at - started, cpuMicros: cpuUsed.user + cpuUsed.system, maxRssBytes: process.resourceUsage().maxRSS * 1024, chunkTimes, readThread: readThread !== undefined, ...threadShare(phaseMainCpu, mainCpu, documents) }));
    await mongo.close();
    return;
  } else {
    // Live changes at a steady rate while the snapshot runs; each is timed from its acknowledged write to its record.
    const kafka = localKafka('bench-latency');
    const consumer = kafka.consumer({ groupId: `${args.streamId}-latency`, maxWaitTimeInMs: 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: args.topic, fromBeginning: true });
    const committedAt = new Map<number, number>();
    const latencies: number[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.[HEADERS.snapshot] !== undefined) return;
        const match = /"live":\{"\$numberInt":"(\d+)"\}/.exec(String(message.value));
        const sent = match ? committedAt.get(Number(match[1])) : undefined;
        if (sent !== undefined) latencies.push(Date.now() - sent);
      },
    });
    let writing = true;
    let written = 0;
    const writer = (async () => {
      const begin = Date.now();
      while (writing) {
        const due = Math.floor(((Date.now() - begin) / 1000) * (args.rate ?? 500));
        while (written < due) {
          const n = written++;
          await collection.insertOne({ _id: LIVE_MARK + n, live: n, note: 'x'.repeat(900) } as Document);
          committedAt.set(n, Date.now());
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    documents = await runSnapshot(mongo, () => false);
    writing = false;
    await writer;
    const waitUntil = Date.now() + 30_000;
    while (latencies.length < written && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 100));
    await consumer.disconnect();
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
    extra = { liveWritten: written, liveSeen: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? Number.NaN };
  }
  const cpuUsed = process.cpuUsage(cpu);
  console.log(JSON.stringify({ events: documents, ms: Date.now() - started, cpuMicros: cpuUsed.user + cpuUsed.system, maxRssBytes: process.resourceUsage().maxRSS * 1024, ...extra }));
  await mongo.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
