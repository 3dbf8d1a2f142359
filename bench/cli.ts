// npm run bench -- relay: the relay against its ceilings and a naive relay, measured in one run on the local stack.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { MongoClient, type Timestamp } from 'mongodb';
import { endpoints, external } from '../infra/stack/endpoints';
import { probeMongodb } from '../infra/stack/services/mongodb';
import { stackDown, stackIsAnswering, stackUp } from '../infra/stack/stack';
import { createControlTable, createReportingTable, dropTable, localDynamo, localKafka } from '../test/support/local-clients';
import { createServedTopics } from '../test/support/test-topics';
import { uniqueName } from '../test/support/unique-name';
import { codecBenchmark } from './codec-bench';
import { phaseBundle } from './phase-bundle';
import { runConnector } from './connector-phase';
import { type LatencyResult, measureLatency } from './relay-latency';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const NAIVE = Number(process.env.BENCH_NAIVE_EVENTS ?? 5_000);
/** Alternating runs of the phases compared with each other (relay and connector; OpenSearch raw and sink): medians. */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface PhaseResult {
  events: number;
  ms: number;
  /** CPU (user + system) of the process doing the work, over the timed span: independent of how busy the machine is. */
  cpuMicros: number;
  maxRssBytes: number;
}

/** `load` is the machine's 1-minute load average when the phase ended: CPU per event is comparable across loads, events/s is not. */
type Outcome = { name: string; result: PhaseResult; load: number } | { name: string; error: string };

/** The V8 flags serverless.yml gives the relay function, so the relay phase runs as deployed. */
const RELAY_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * The relay's read thread in the relay phases: each mode in BENCH_RELAY_READ_THREAD (on,off) runs in every round of the
 * alternating runs, so both are compared with the same connector runs. BENCH_RELAY_CPUS pins the relay phases to those
 * CPUs (taskset -c, e.g. 0 for one core) to measure a one-vCPU function.
 */
const READ_THREAD_MODES = (process.env.BENCH_RELAY_READ_THREAD ?? 'on,off').split(',').filter(Boolean);
const RELAY_CPUS = process.env.BENCH_RELAY_CPUS;
/** BENCH_CPU_PROF_DIR: a V8 CPU profile of each relay phase, one file per thread (NODE_OPTIONS may not carry --cpu-prof). */
const RELAY_PROFILE = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];

function runPhase(
  phase: string,
  args: Record<string, unknown>,
  nodeFlags: string[] = [],
  script = 'relay-phases.ts',
  options: { env?: Record<string, string>; cpus?: string } = {},
): PhaseResult {
  const command = [...nodeFlags, phaseBundle(script), JSON.stringify({ ...args, phase })];
  const [file, argv] = options.cpus ? ['taskset', ['-c', options.cpus, process.execPath, ...command]] : [process.execPath, command];
  const output = execFileSync(file, argv as string[], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, ...options.env },
  });
  const last = output.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(last) as PhaseResult;
}

/** Runs one phase; a failure is recorded and printed with the table instead of ending the benchmark. */
async function attempt(name: string, run: () => PhaseResult | Promise<PhaseResult>): Promise<Outcome> {
  console.log(`phase: ${name} ...`);
  try {
    const result = await run();
    return { name, result, load: loadavg()[0] ?? Number.NaN };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    console.log(`phase failed: ${name}: ${message}`);
    return { name, error: message };
  }
}

const rate = (result: PhaseResult) => (result.events / result.ms) * 1000;
const cpuPerEvent = (result: PhaseResult) => result.cpuMicros / result.events;
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The run with the median events/s (CPU and memory shown are that run's). */
function medianRun(outcomes: Outcome[]): PhaseResult | undefined {
  const results = outcomes.flatMap((outcome) => ('result' in outcome ? [outcome.result] : []));
  if (results.length === 0) return undefined;
  const target = median(results.map(rate));
  return results.reduce((best, result) => (Math.abs(rate(result) - target) < Math.abs(rate(best) - target) ? result : best));
}

function printTable(outcomes: Outcome[]): void {
  console.log('\n| phase | events | seconds | events/s | CPU µs/event | peak RSS MiB | load avg |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      console.log(`| ${outcome.name} | FAILED: ${outcome.error.replace(/\|/g, '/')} | | | | | |`);
      continue;
    }
    const result = outcome.result;
    console.log(
      `| ${outcome.name} | ${result.events} | ${(result.ms / 1000).toFixed(1)} | ${rate(result).toFixed(0)} | ${cpuPerEvent(result).toFixed(0)} | ${mib(result.maxRssBytes)} | ${outcome.load.toFixed(1)} |`,
    );
  }
}

/** "a / b = 1.23 (CPU µs/event a 100 vs b 200)", or why it cannot be computed. */
function ratio(label: string, a: PhaseResult | undefined, b: PhaseResult | undefined, target: string): string {
  if (!a || !b) return `${label}: not computed (a phase failed)`;
  return `${label} = ${(rate(a) / rate(b)).toFixed(2)}  (${target}; CPU µs/event ${cpuPerEvent(a).toFixed(0)} vs ${cpuPerEvent(b).toFixed(0)})`;
}

const resultOf = (outcome: Outcome | undefined) => (outcome && 'result' in outcome ? outcome.result : undefined);

/** About 1 KiB per document, varied enough that compression or caching cannot flatter the numbers. */
function document(index: number) {
  return { n: index, customer: `customer-${index % 997}`, status: ['new', 'paid', 'shipped'][index % 3], note: 'x'.repeat(900) + String(index) };
}

async function relayBenchmark(): Promise<boolean> {
  if (!(await stackIsAnswering())) await stackUp((line) => console.log(`[stack] ${line}`));
  const standIn = (await probeMongodb(endpoints.mongodbUri())).kind === 'stand-in';
  if (!external.mongodb() && standIn) {
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
  const common = { db, collection: 'orders', startSeconds, table };
  const phase = (name: string, args: Record<string, unknown>, flags: string[] = [], options: Parameters<typeof runPhase>[4] = {}) =>
    runPhase(name, { ...common, streamId: uniqueName(`bench-${name}`), topic: uniqueName(`bench-${name}`), ...args }, flags, undefined, options);

  const read = await attempt('bare change-stream read', () => phase('read', { events: TOTAL, topic: 'unused' }));
  const produce = await attempt('bare kafkajs produce (1000/batch)', () => phase('produce', { events: TOTAL }));
  const relaysByMode = new Map<string, Outcome[]>(READ_THREAD_MODES.map((mode) => [mode, []]));
  const connectors: Outcome[] = [];
  const pinned = RELAY_CPUS ? `, CPUs ${RELAY_CPUS}` : '';
  for (let run = 1; run <= RUNS; run++) {
    for (const [mode, relays] of relaysByMode) {
      relays.push(
        await attempt(`mongo-cdc relay (read thread ${mode}${pinned}), run ${run}`, () =>
          phase('relay', { events: TOTAL }, [...RELAY_NODE_FLAGS, ...RELAY_PROFILE], { env: { RELAY_READ_THREAD: mode }, ...(RELAY_CPUS ? { cpus: RELAY_CPUS } : {}) }),
        ),
      );
    }
    connectors.push(
      await attempt(`MongoDB Kafka Connector 2.0.1 source (Connect 3.9.2 standalone), run ${run}`, () =>
        runConnector({ db, collection: 'orders', startSeconds, events: TOTAL, topicPrefix: uniqueName('bench-connector'), runId: uniqueName('run'), addNamespace: standIn }, (line) =>
          console.log(`[connector] ${line}`),
        ),
      ),
    );
  }
  const naive = await attempt(`naive relay (first ${NAIVE} events; send + checkpoint per event)`, () => phase('naive', { events: NAIVE }));
  const latencies = new Map<string, (LatencyResult & { load: number }) | string>();
  for (const mode of READ_THREAD_MODES) {
    console.log(`phase: latency at a steady 1,000 events/s (read thread ${mode}) ...`);
    try {
      const result = await measureLatency({
        ratePerSecond: 1000,
        seconds: Number(process.env.BENCH_LATENCY_SECONDS ?? 20),
        nodeFlags: RELAY_NODE_FLAGS,
        env: { RELAY_READ_THREAD: mode },
      });
      latencies.set(mode, { ...result, load: loadavg()[0] ?? Number.NaN });
    } catch (error) {
      latencies.set(mode, (error as Error).message);
      console.log(`phase failed: latency: ${(error as Error).message}`);
    }
  }

  const relays = [...relaysByMode.values()].flat();
  const outcomes = [read, produce, ...relays, ...connectors, naive];
  printTable(outcomes);
  const connector = medianRun(connectors);
  const ceiling = [resultOf(read), resultOf(produce)].reduce<PhaseResult | undefined>(
    (lowest, result) => (!result ? lowest : !lowest || rate(result) < rate(lowest) ? result : lowest),
    undefined,
  );
  for (const [mode, modeRelays] of relaysByMode) {
    const relay = medianRun(modeRelays);
    console.log(`\nread thread ${mode}${pinned}:`);
    console.log(`medians of ${RUNS} alternating runs: relay ${relay ? rate(relay).toFixed(0) : '-'} events/s, connector ${connector ? rate(connector).toFixed(0) : '-'} events/s`);
    console.log(ratio('relay / MongoDB Kafka Connector (medians)', relay, connector, 'target >= 1.3'));
    console.log(ratio('relay / min(bare read, bare produce)', relay, ceiling, 'reference: how close the relay runs to its parts'));
    console.log(ratio('relay / naive', relay, resultOf(naive), 'target >= 10'));
    if (relay) {
      console.log(`relay CPU per event = ${cpuPerEvent(relay).toFixed(0)} µs  (target <= 100)`);
      console.log(`relay peak RSS = ${mib(relay.maxRssBytes)} MiB  (target < 256)`);
    }
    const latency = latencies.get(mode);
    if (typeof latency === 'string') console.log(`commit -> Kafka latency at 1000/s: FAILED: ${latency}`);
    else if (latency) {
      console.log(
        `commit -> Kafka latency at ${latency.ratePerSecond}/s for ${latency.seconds} s (${latency.samples} of ${latency.written} events, written at ${(latency.written / latency.seconds).toFixed(0)}/s): ` +
          `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms  (target p99 < 1000; p99 to a consumer ${latency.consumedP99Ms} ms); ` +
          `relay CPU ${(latency.relayCpuMicros / latency.relayed).toFixed(0)} µs/event, peak RSS ${mib(latency.relayMaxRssBytes)} MiB; load average ${latency.load.toFixed(1)}`,
      );
    }
  }

  await mongo.db(db).dropDatabase();
  await mongo.close();
  await dropTable(dynamo, table);
  dynamo.destroy();
  return outcomes.every((outcome) => 'result' in outcome) && [...latencies.values()].every((latency) => typeof latency !== 'string');
}

interface SnapshotPhaseResult extends PhaseResult {
  cpuMicros: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  liveWritten?: number;
  liveSeen?: number;
  /** The snapshot phase's chunks: how many, and the wall time they spent reading, producing and saving progress. */
  chunkTimes?: { chunks: number; readMs: number; produceMs: number; checkpointMs: number; chunkMs: number };
  /** Whether the snapshot read and encoded its chunks on a thread of its own (SNAPSHOT_READ_THREAD). */
  readThread?: boolean;
}

/**
 * npm run bench -- snapshot: copying BENCH_SNAPSHOT_DOCUMENTS (200,000) existing ~1 KiB documents against a bare find
 * and a bare produce of the same records, measured in one run; then the live stream's latency while a snapshot runs.
 */
async function snapshotBenchmark(): Promise<boolean> {
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
  const topics = { produce: uniqueName('bench-snap-produce'), snapshot: uniqueName('bench-snap'), latency: uniqueName('bench-snap-latency') };
  await createServedTopics(kafka, Object.values(topics), 3);
  const tables: string[] = [];
  const phase = async (name: string, topic: string, extra: Record<string, unknown> = {}, nodeFlags: string[] = []) => {
    const table = uniqueName('bench-snap-control');
    tables.push(table);
    await createControlTable(dynamo, table);
    console.log(`phase: ${name} ...`);
    return runPhase(name, { db, collection: 'orders', documents: total, topic, table, streamId: uniqueName('bench-snap'), ...extra }, nodeFlags, 'snapshot-phases.ts') as SnapshotPhaseResult;
  };
  // The machine may be shared: the load average beside the numbers says how much the ratios can be trusted.
  const loadAverage = () => loadavg().map((load) => load.toFixed(2)).join(' ');
  const loadBefore = loadAverage();
  // BENCH_SNAPSHOT_PHASES (find,produce,snapshot,latency): a subset, to iterate on one phase; the ratio needs the first three.
  const wanted = new Set((process.env.BENCH_SNAPSHOT_PHASES ?? 'find,produce,snapshot,latency').split(',').map((name) => name.trim()));
  const find = wanted.has('find') ? await phase('find', 'unused') : undefined;
  const produce = wanted.has('produce') ? await phase('produce', topics.produce) : undefined;
  // BENCH_CPU_PROF_DIR: a V8 CPU profile of the snapshot phase (NODE_OPTIONS may not carry --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  const snapshot = wanted.has('snapshot') ? await phase('snapshot', topics.snapshot, {}, [...RELAY_NODE_FLAGS, ...profile]) : undefined;
  const latency = wanted.has('latency') ? await phase('latency', topics.latency, { rate }, RELAY_NODE_FLAGS) : undefined;

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
    if (!result) continue;
    console.log(`| ${name} | ${result.events} | ${(result.ms / 1000).toFixed(1)} | ${perSecond(result).toFixed(0)} | ${cpuPer(result)} | ${mib(result.maxRssBytes)} |`);
  }
  if (find && produce && snapshot) {
    console.log(`\nsnapshot / min(bare find, bare produce) = ${(perSecond(snapshot) / Math.min(perSecond(find), perSecond(produce))).toFixed(2)}  (target >= 0.7)`);
  }
  if (latency) {
    console.log(
      `live commit -> Kafka latency at ${rate}/s during a snapshot (${latency.liveSeen} of ${latency.liveWritten} changes): ` +
        `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms  (target p99 < 2000)`,
    );
  }
  if (snapshot) {
    console.log(`snapshot peak RSS = ${mib(snapshot.maxRssBytes)} MiB  (target < 256; CPU and RSS are the whole process's, reading thread included)`);
    console.log(`snapshot chunks read and encoded ${snapshot.readThread ? 'on a thread of their own' : 'on the producing thread'} (SNAPSHOT_READ_THREAD=${process.env.SNAPSHOT_READ_THREAD ?? 'auto'})`);
    if (snapshot.chunkTimes) {
      const { chunks, readMs, produceMs, checkpointMs, chunkMs } = snapshot.chunkTimes;
      console.log(`snapshot chunks: ${chunks}, wall ms in chunks ${chunkMs} (waiting for a read ${readMs}, producing ${produceMs}, saving progress ${checkpointMs}) of ${snapshot.ms}`);
    }
  }
  console.log(`load average (1, 5, 15 min) before the phases: ${loadBefore}; after: ${loadAverage()} (${cpus().length} CPUs)`);

  await mongo.db(db).dropDatabase();
  await mongo.close();
  for (const table of tables) await dropTable(dynamo, table);
  dynamo.destroy();
  return true;
}

async function sinksBenchmark(): Promise<boolean> {
  if (!(await stackIsAnswering())) await stackUp((line) => console.log(`[stack] ${line}`));
  const events = Number(process.env.BENCH_SINK_EVENTS ?? 100_000);
  const dynamo = localDynamo();
  const rawTable = uniqueName('bench-raw');
  const ceilingTable = uniqueName('bench-ceiling');
  const sinkTable = uniqueName('bench-sink');
  for (const table of [rawTable, ceilingTable, sinkTable]) await createReportingTable(dynamo, table);
  const indexTemplate = uniqueName('bench');
  // BENCH_CPU_PROF_DIR: a V8 CPU profile of each OpenSearch sink run (NODE_OPTIONS may not carry --cpu-prof).
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  const phase = (name: string, label: string, args: Record<string, unknown>, nodeFlags: string[] = []) =>
    attempt(label, () => runPhase(name, { events, db: 'bench', indexTemplate, table: '', ...args }, nodeFlags, 'sink-phases.ts'));
  // BENCH_SINKS=opensearch (or dynamodb) runs one store's phases only, e.g. while working on that sink.
  const only = process.env.BENCH_SINKS;
  if (only !== undefined && only !== 'dynamodb' && only !== 'opensearch') throw new Error(`BENCH_SINKS is "${only}"; use dynamodb or opensearch`);
  const dynamoOutcomes: Outcome[] = [];
  if (only !== 'opensearch') {
    dynamoOutcomes.push(
      await phase('dynamo-raw', 'DynamoDB raw BatchWriteItem (25/request, 16 in flight)', { table: rawTable }),
      await phase('dynamo-put-ceiling', 'DynamoDB Local ceiling: conditional PutItem, raw HTTP, 64 in flight', { table: ceilingTable }),
      await phase('dynamo-sink', "DynamoDB sink (conditional PutItem, the handler's client, 16 in flight)", { table: sinkTable }),
    );
  }
  const searchRaws: Outcome[] = [];
  const searchSinks: Outcome[] = [];
  for (let run = 1; only !== 'dynamodb' && run <= RUNS; run++) {
    // Each run writes its own indices, so no run updates what an earlier one wrote.
    searchRaws.push(await phase('search-raw', `OpenSearch raw _bulk (500/request), run ${run}`, { indexTemplate: `${indexTemplate}-r${run}` }));
    searchSinks.push(
      await phase('search-sink', `OpenSearch sink (_bulk, external_gte versions), run ${run}`, { indexTemplate: `${indexTemplate}-s${run}` }, profile),
    );
  }

  printTable([...dynamoOutcomes, ...searchRaws, ...searchSinks]);
  console.log('');
  if (only !== 'opensearch') {
    const [dynamoRaw, dynamoCeiling, dynamoSink] = dynamoOutcomes;
    const sink = resultOf(dynamoSink);
    console.log(ratio('DynamoDB sink / raw BatchWriteItem', sink, resultOf(dynamoRaw), 'reference: unconditional writes, not a like-for-like ceiling'));
    console.log(ratio('DynamoDB sink / DynamoDB Local conditional-write ceiling', sink, resultOf(dynamoCeiling), 'the most a conditional-write sink can reach here'));
    if (sink) console.log(`DynamoDB sink CPU per applied item = ${(cpuPerEvent(sink) / 1000).toFixed(2)} ms  (target <= 0.5)`);
  }
  if (only !== 'dynamodb') {
    console.log(ratio(`OpenSearch sink / raw _bulk (medians of ${RUNS} alternating runs)`, medianRun(searchSinks), medianRun(searchRaws), 'target >= 0.8'));
  }
  console.log(`load average (1, 5, 15 min): ${loadavg().map((load) => load.toFixed(2)).join(' ')} (${cpus().length} CPUs)`);

  for (const table of [rawTable, ceilingTable, sinkTable]) await dropTable(dynamo, table);
  dynamo.destroy();
  await fetch(`${endpoints.opensearch()}/${indexTemplate}-*`, { method: 'DELETE' }).catch(() => undefined);
  return [...dynamoOutcomes, ...searchRaws, ...searchSinks].every((outcome) => 'result' in outcome);
}

async function main(): Promise<boolean> {
  const [which] = process.argv.slice(2);
  if (which === 'relay') return relayBenchmark();
  if (which === 'sinks') return sinksBenchmark();
  if (which === 'codec') {
    codecBenchmark();
    return true;
  }
  if (which === 'snapshot') return snapshotBenchmark();
  console.error('usage: npm run bench -- relay|sinks|codec|snapshot');
  process.exit(2);
}

main().then(
  (complete) => process.exit(complete ? 0 : 1),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
