// npm run bench -- relay: the relay against its ceilings and a naive relay, measured in one run on the local stack.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { MongoClient, type Timestamp } from 'mongodb';
import { endpoints, external } from '../infra/stack/endpoints';
import { probeMongodb } from '../infra/stack/services/mongodb';
import { stackDown, stackIsAnswering, stackUp } from '../infra/stack/stack';
import { createControlTable, createReportingTable, dropTable, localDynamo, localKafka } from '../test/support/local-clients';
import { uniqueName } from '../test/support/unique-name';
import { codecBenchmark } from './codec-bench';
import { measureLatency } from './relay-latency';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const NAIVE = Number(process.env.BENCH_NAIVE_EVENTS ?? 5_000);

interface PhaseResult {
  events: number;
  ms: number;
  maxRssBytes: number;
}

/** The V8 flags serverless.yml gives the relay function, so the relay phase runs as deployed. */
const RELAY_NODE_FLAGS = ['--max-semi-space-size=4'];

function runPhase(phase: string, args: Record<string, unknown>, nodeFlags: string[] = [], script = 'relay-phases.ts'): PhaseResult {
  const output = execFileSync(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', resolve(__dirname, script), JSON.stringify({ ...args, phase })],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 },
  );
  const last = output.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(last) as PhaseResult;
}

/** About 1 KiB per document, varied enough that compression or caching cannot flatter the numbers. */
function document(index: number) {
  return { n: index, customer: `customer-${index % 997}`, status: ['new', 'paid', 'shipped'][index % 3], note: 'x'.repeat(900) + String(index) };
}

async function relayBenchmark(): Promise<void> {
  if (!(await stackIsAnswering())) await stackUp((line) => console.log(`[stack] ${line}`));
  if (!external.mongodb() && (await probeMongodb(endpoints.mongodbUri())).kind === 'stand-in') {
    // The stand-in keeps every run's documents in memory; start it empty so earlier runs cannot skew or exhaust it.
    console.log('restarting the in-memory MongoDB stand-in for a clean oplog ...');
    await stackDown(() => undefined, ['mongodb']);
    await stackUp(() => undefined, ['mongodb']);
  }
  const mongo = new MongoClient(endpoints.mongodbUri());
  const dynamo = localDynamo();
  const db = uniqueName('bench');
  const table = uniqueName('bench-control');
  await createControlTable(dynamo, table);
  // The server's own clock: a stand-in restarted a moment ago has no history before its start (as a new replica set).
  const startSeconds = ((await mongo.db('admin').command({ ping: 1 })).operationTime as Timestamp).high;
  console.log(`inserting ${TOTAL} documents of about 1 KiB into ${db}.orders ...`);
  const collection = mongo.db(db).collection('orders');
  for (let index = 0; index < TOTAL; index += 1000) {
    await collection.insertMany(Array.from({ length: Math.min(1000, TOTAL - index) }, (_, offset) => document(index + offset)));
  }
  const common = { db, collection: 'orders', startSeconds, table, streamId: uniqueName('bench-stream') };

  console.log('phase: bare change-stream read ...');
  const read = runPhase('read', { ...common, events: TOTAL, topic: 'unused' });
  console.log('phase: bare produce ...');
  const produce = runPhase('produce', { ...common, events: TOTAL, topic: uniqueName('bench-produce') });
  console.log('phase: mongo-cdc relay ...');
  const relay = runPhase('relay', { ...common, events: TOTAL, topic: uniqueName('bench-relay') }, RELAY_NODE_FLAGS);
  console.log(`phase: naive relay (first ${NAIVE} events) ...`);
  const naive = runPhase('naive', { ...common, events: NAIVE, topic: uniqueName('bench-naive'), streamId: uniqueName('naive') });
  console.log('phase: latency at a steady 1,000 events/s ...');
  const latency = await measureLatency({ ratePerSecond: 1000, seconds: Number(process.env.BENCH_LATENCY_SECONDS ?? 20) });

  const rate = (result: PhaseResult) => (result.events / result.ms) * 1000;
  const ceiling = Math.min(rate(read), rate(produce));
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  const rows = [
    ['bare change-stream read', rate(read), read],
    ['bare kafkajs produce (1000/batch)', rate(produce), produce],
    ['naive relay (send + checkpoint per event)', rate(naive), naive],
    ['mongo-cdc relay (defaults)', rate(relay), relay],
  ] as const;
  console.log('\n| phase | events | seconds | events/s | peak RSS MiB |\n| --- | ---: | ---: | ---: | ---: |');
  for (const [name, eventsPerSecond, result] of rows) {
    console.log(`| ${name} | ${result.events} | ${(result.ms / 1000).toFixed(1)} | ${eventsPerSecond.toFixed(0)} | ${mib(result.maxRssBytes)} |`);
  }
  console.log(`\nrelay / min(bare read, bare produce) = ${(rate(relay) / ceiling).toFixed(2)}  (target >= 0.8)`);
  console.log(`relay / naive = ${(rate(relay) / rate(naive)).toFixed(1)}  (target >= 10)`);
  console.log(`relay peak RSS = ${mib(relay.maxRssBytes)} MiB  (target < 256)`);
  console.log(
    `commit -> Kafka latency at ${latency.ratePerSecond}/s for ${latency.seconds} s (${latency.samples} events): ` +
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms  (target p99 < 1000)`,
  );

  await mongo.db(db).dropDatabase();
  await mongo.close();
  await dropTable(dynamo, table);
  dynamo.destroy();
}

interface SnapshotPhaseResult extends PhaseResult {
  cpuMicros: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  liveWritten?: number;
  liveSeen?: number;
}

/**
 * npm run bench -- snapshot: copying BENCH_SNAPSHOT_DOCUMENTS (200,000) existing ~1 KiB documents against a bare find
 * and a bare produce of the same records, measured in one run; then the live stream's latency while a snapshot runs.
 */
async function snapshotBenchmark(): Promise<void> {
  if (!(await stackIsAnswering())) await stackUp((line) => console.log(`[stack] ${line}`));
  if (!external.mongodb() && (await probeMongodb(endpoints.mongodbUri())).kind === 'stand-in') {
    console.log('restarting the in-memory MongoDB stand-in for a clean oplog ...');
    await stackDown(() => undefined, ['mongodb']);
    await stackUp(() => undefined, ['mongodb']);
  }
  const total = Number(process.env.BENCH_SNAPSHOT_DOCUMENTS ?? 200_000);
  const rate = Number(process.env.BENCH_SNAPSHOT_LIVE_RATE ?? 500);
  const mongo = new MongoClient(endpoints.mongodbUri());
  const dynamo = localDynamo();
  const db = uniqueName('bench-snap');
  console.log(`inserting ${total} documents of about 1 KiB into ${db}.orders ...`);
  const collection = mongo.db(db).collection('orders');
  for (let index = 0; index < total; index += 1000) {
    await collection.insertMany(Array.from({ length: Math.min(1000, total - index) }, (_, offset) => document(index + offset)));
  }
  const kafka = localKafka('bench-snapshot');
  const admin = kafka.admin();
  await admin.connect();
  const topics = { produce: uniqueName('bench-snap-produce'), snapshot: uniqueName('bench-snap'), latency: uniqueName('bench-snap-latency') };
  await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
  await admin.disconnect();
  const tables: string[] = [];
  const phase = async (name: string, topic: string, extra: Record<string, unknown> = {}, nodeFlags: string[] = []) => {
    const table = uniqueName('bench-snap-control');
    tables.push(table);
    await createControlTable(dynamo, table);
    console.log(`phase: ${name} ...`);
    return runPhase(name, { db, collection: 'orders', documents: total, topic, table, streamId: uniqueName('bench-snap'), ...extra }, nodeFlags, 'snapshot-phases.ts') as SnapshotPhaseResult;
  };
  const find = await phase('find', 'unused');
  const produce = await phase('produce', topics.produce);
  const snapshot = await phase('snapshot', topics.snapshot, {}, RELAY_NODE_FLAGS);
  const latency = await phase('latency', topics.latency, { rate }, RELAY_NODE_FLAGS);

  const perSecond = (result: PhaseResult) => (result.events / result.ms) * 1000;
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  const cpuPer = (result: SnapshotPhaseResult) => (result.cpuMicros / Math.max(1, result.events)).toFixed(0);
  console.log('\n| phase | documents | seconds | documents/s | CPU µs/document | peak RSS MiB |\n| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, result] of [
    ['bare find cursor (_id order, raw BSON)', find],
    ['bare kafkajs produce of the snapshot records (1000/batch)', produce],
    ['mongo-cdc snapshot (relay, defaults)', snapshot],
    [`mongo-cdc snapshot with ${rate} live changes/s`, latency],
  ] as const) {
    console.log(`| ${name} | ${result.events} | ${(result.ms / 1000).toFixed(1)} | ${perSecond(result).toFixed(0)} | ${cpuPer(result)} | ${mib(result.maxRssBytes)} |`);
  }
  console.log(`\nsnapshot / min(bare find, bare produce) = ${(perSecond(snapshot) / Math.min(perSecond(find), perSecond(produce))).toFixed(2)}  (target >= 0.7)`);
  console.log(
    `live commit -> Kafka latency at ${rate}/s during a snapshot (${latency.liveSeen} of ${latency.liveWritten} changes): ` +
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms  (target p99 < 2000)`,
  );
  console.log(`snapshot peak RSS = ${mib(snapshot.maxRssBytes)} MiB  (target < 256)`);

  await mongo.db(db).dropDatabase();
  await mongo.close();
  for (const table of tables) await dropTable(dynamo, table);
  dynamo.destroy();
}

async function sinksBenchmark(): Promise<void> {
  if (!(await stackIsAnswering())) await stackUp((line) => console.log(`[stack] ${line}`));
  const events = Number(process.env.BENCH_SINK_EVENTS ?? 100_000);
  const dynamo = localDynamo();
  const rawTable = uniqueName('bench-raw');
  const ceilingTable = uniqueName('bench-ceiling');
  const sinkTable = uniqueName('bench-sink');
  for (const table of [rawTable, ceilingTable, sinkTable]) await createReportingTable(dynamo, table);
  const indexTemplate = uniqueName('bench');
  const common = { events, db: 'bench', indexTemplate };
  const phase = (name: string, table = '') => {
    console.log(`phase: ${name} (${events} events) ...`);
    return runPhase(name, { ...common, table }, [], 'sink-phases.ts');
  };
  const dynamoRaw = phase('dynamo-raw', rawTable);
  const dynamoCeiling = phase('dynamo-put-ceiling', ceilingTable);
  const dynamoSink = phase('dynamo-sink', sinkTable);
  const searchRaw = phase('search-raw');
  const searchSink = phase('search-sink');

  const rate = (result: PhaseResult) => (result.events / result.ms) * 1000;
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  console.log('\n| phase | events | seconds | events/s | peak RSS MiB |\n| --- | ---: | ---: | ---: | ---: |');
  for (const [name, result] of [
    ['DynamoDB raw BatchWriteItem (25/request, 16 in flight)', dynamoRaw],
    ['DynamoDB Local ceiling: conditional PutItem, raw HTTP, 64 in flight', dynamoCeiling],
    ['DynamoDB sink (conditional PutItem, 16 in flight)', dynamoSink],
    ['OpenSearch raw _bulk (500/request)', searchRaw],
    ['OpenSearch sink (_bulk, external_gte versions)', searchSink],
  ] as const) {
    console.log(`| ${name} | ${result.events} | ${(result.ms / 1000).toFixed(1)} | ${rate(result).toFixed(0)} | ${mib(result.maxRssBytes)} |`);
  }
  console.log(`\nDynamoDB sink / raw = ${(rate(dynamoSink) / rate(dynamoRaw)).toFixed(2)}  (target >= 0.7)`);
  console.log(
    `DynamoDB Local's own conditional-write ceiling / raw = ${(rate(dynamoCeiling) / rate(dynamoRaw)).toFixed(2)}; ` +
      `sink / that ceiling = ${(rate(dynamoSink) / rate(dynamoCeiling)).toFixed(2)}`,
  );
  console.log(`OpenSearch sink / raw = ${(rate(searchSink) / rate(searchRaw)).toFixed(2)}  (target >= 0.8)`);

  for (const table of [rawTable, ceilingTable, sinkTable]) await dropTable(dynamo, table);
  dynamo.destroy();
  await fetch(`${endpoints.opensearch()}/${indexTemplate}-*`, { method: 'DELETE' }).catch(() => undefined);
}

async function main(): Promise<void> {
  const [which] = process.argv.slice(2);
  if (which === 'relay') await relayBenchmark();
  else if (which === 'sinks') await sinksBenchmark();
  else if (which === 'codec') codecBenchmark();
  else if (which === 'snapshot') await snapshotBenchmark();
  else {
    console.error('usage: npm run bench -- relay|sinks|codec|snapshot');
    process.exit(2);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
