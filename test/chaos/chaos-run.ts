import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Document, MongoClient } from 'mongodb';
import { indexName } from '../../functions/sink-opensearch/search-document';
import { DEAD_LETTER_HEADERS } from '../../shared/dead-letter';
import { decodeRecord } from '../../shared/record-format';
import { endpoints } from '../../infra/stack/endpoints';
import { stackDown, stackUp } from '../../infra/stack/stack';
import { logsDir, projectRoot } from '../../infra/stack/stack-settings';
import { dropTable, localDynamo, localKafka, readAllRecords } from '../support/local-clients';
import { AS_RELAYED, type CollectionComparison, compareCollection, scanItems } from '../support/store-comparison';
import { adversarialDocument, adversarialId, SeededRandom } from './adversarial-data';

export type Fault = 'pipeline-kill' | 'broker-restart' | 'opensearch-restart' | 'index-write-block';
export const ALL_FAULTS: readonly Fault[] = ['pipeline-kill', 'broker-restart', 'opensearch-restart', 'index-write-block'];

export interface ChaosOptions {
  readonly seed: number;
  /** With opsPerSecond, the number of operations (seconds × rate); on a busy machine they take longer, never fewer. */
  readonly workloadSeconds: number;
  readonly opsPerSecond: number;
  readonly idsPerCollection: number;
  readonly faults: readonly Fault[];
  readonly outageSeconds: number;
  readonly large: number;
  readonly oversize: number;
  readonly log: (line: string) => void;
}

export interface DeadLetterReport {
  readonly topic: string;
  readonly key: string;
  readonly code: string;
  readonly reason: string;
  /** The reason without its numbers and keys, so letters of one kind count together. */
  readonly kind: string;
  /** A documented store limit: an event over Kafka's record limit, or an item over DynamoDB's 400 KB. */
  readonly explained: boolean;
}

export interface ChaosReport {
  readonly seed: number;
  /** Wall-clock seconds of the whole run: priming, workload and faults, drain, reading Kafka, comparing the stores. */
  readonly durationSeconds: number;
  readonly operations: { attempted: number; failed: number; byKind: Record<string, number> };
  readonly faults: Array<{ fault: Fault; atSecond: number; detail: string }>;
  readonly drained: boolean;
  /** `npm start` ending by itself while the workload and faults ran (it must wait for services that are down). */
  readonly pipelineExits: string[];
  readonly kafka: { records: number; duplicates: number; orderViolations: string[] };
  readonly deadLetters: DeadLetterReport[];
  readonly onFailure: string[];
  readonly collections: CollectionComparison[];
  readonly unexplained: string[];
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const COLLECTIONS = ['alpha', 'beta', 'gamma'] as const;

/** `npm start` in its own process group (so SIGKILL takes all of it), output appended to a log file. */
interface Pipeline {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The newest status line the runtime printed. */
  status?: { streams: Array<{ eventsRelayed: number }> };
  /** Set before the harness stops it; any other exit is the pipeline giving up by itself. */
  stoppedByHarness?: boolean;
}

function startPipeline(env: NodeJS.ProcessEnv, args: string[], logFile: string): Pipeline {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn('npm', ['start', '--silent', '--', ...args], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const pipeline: Pipeline = { child, exited };
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('"event":"local.status"')) pipeline.status = JSON.parse(line) as Pipeline['status'];
    }
  });
  child.stderr?.pipe(out);
  return pipeline;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid ?? 0), signal);
  } catch {
    // already gone
  }
}

/**
 * One chaos run: a seeded adversarial workload on three collection streams through `npm start`, faults injected into
 * this stack's own services at seeded moments, a drain, then MongoDB compared with both stores document by document,
 * and Kafka checked for duplicates and per-key order.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = new SeededRandom(options.seed);
  const runStarted = Date.now();
  const tag = `chaos_${options.seed}_${Date.now().toString(36)}`;
  const db = tag;
  const deadLetterTopic = `${tag}.relay-dead-letter`;
  const sinkDeadLetterTopic = `${tag}.sink-dead-letter`;
  const onFailureTopic = `${tag}.sink-on-failure`;
  const indexTemplate = `${tag}-{db}-{coll}`.toLowerCase();
  const controlTable = `${tag}-control`;
  const reportingTable = `${tag}-reporting`;
  const topics = COLLECTIONS.map((coll) => `mongo-cdc.${db}.${coll}`);
  mkdirSync(logsDir, { recursive: true });
  const logFile = resolve(logsDir, `${tag}.log`);
  options.log(`chaos seed ${options.seed}: database ${db}, pipeline log ${logFile}`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify(COLLECTIONS.map((coll) => ({ id: `${tag}-${coll}`, database: db, collection: coll, deadLetterTopic }))),
    CONTROL_TABLE: controlTable,
    REPORTING_TABLE: reportingTable,
    SINK_INDEX_TEMPLATE: indexTemplate,
    SINK_DEAD_LETTER_TOPIC: sinkDeadLetterTopic,
    SINK_ON_FAILURE_TOPIC: onFailureTopic,
    SINK_BATCH_SIZE: '100',
    RELAY_SCHEDULE_SECONDS: '10',
    RELAY_TIMEOUT_SECONDS: '30',
    RELAY_SAFETY_MARGIN_MS: '5000',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };

  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const ids = COLLECTIONS.map(() => Array.from({ length: options.idsPerCollection }, (_, index) => adversarialId(random, index)));
  const exists = COLLECTIONS.map(() => new Set<number>());
  const operations = { attempted: 0, failed: 0, byKind: {} as Record<string, number> };
  const faults: ChaosReport['faults'] = [];
  const pipelineExits: string[] = [];
  const watched = (started: Pipeline): Pipeline => {
    void started.exited.then((code) => {
      if (!started.stoppedByHarness) pipelineExits.push(`npm start exited by itself with status ${code} (see ${logFile})`);
    });
    return started;
  };
  let pipeline = watched(startPipeline(env, [], logFile));
  // A stream starts at "now": the workload waits until every stream relays, proven by a marker document per collection.
  const primedBy = Date.now() + 180_000;
  for (let marker = 0; !(pipeline.status?.streams.every((stream) => stream.eventsRelayed > 0) ?? false); marker++) {
    if (Date.now() > primedBy) throw new Error('the pipeline did not start relaying within 180 s');
    for (const coll of COLLECTIONS) await mongo.db(db).collection(coll).insertOne({ _id: `marker-${marker}` } as Document);
    await sleep(2_000);
  }
  // Markers written before a stream opened never reach the stores; deleting them all leaves nothing to compare there.
  for (const coll of COLLECTIONS) await mongo.db(db).collection(coll).deleteMany({ _id: { $regex: '^marker-' } } as Document);
  const started = Date.now();
  const second = () => Math.round((Date.now() - started) / 1000);
  options.log('every stream relays: workload and faults start');
  // The workload is a number of operations and each fault comes at a seeded operation, so how busy the machine is changes
  // how long a run takes, never what it does. Faults are spread over the workload, each once.
  const totalOperations = Math.round(options.workloadSeconds * options.opsPerSecond);
  let operationsDone = 0;
  const order = [...options.faults].sort(() => random.next() - 0.5);
  // Everything a fault chooses is drawn here, before the workload: a draw while it runs would shift the workload's own
  // sequence by how far it had got, and a replay of the seed would write other documents.
  const slots = order.map((fault, index) => ({
    fault,
    atOperation: Math.floor(((index + 0.5 + random.next() * 0.5) / (order.length + 0.5)) * totalOperations),
    collection: random.pick(COLLECTIONS),
  }));

  const injectFault = async ({ fault, collection }: (typeof slots)[number]): Promise<string> => {
    switch (fault) {
      case 'pipeline-kill': {
        pipeline.stoppedByHarness = true;
        killGroup(pipeline.child, 'SIGKILL');
        await pipeline.exited;
        await sleep(2_000);
        pipeline = watched(startPipeline(env, [], logFile));
        return 'npm start SIGKILLed with its whole process group, then started again';
      }
      case 'broker-restart':
        await stackDown(() => undefined, ['kafka']);
        await sleep(options.outageSeconds * 1000);
        await stackUp(() => undefined, ['kafka']);
        return `Kafka stopped for ${options.outageSeconds} s, then started`;
      case 'opensearch-restart':
        await stackDown(() => undefined, ['opensearch']);
        await sleep(options.outageSeconds * 1000);
        await stackUp(() => undefined, ['opensearch']);
        return `OpenSearch stopped for ${options.outageSeconds} s, then started`;
      case 'index-write-block': {
        const index = indexName(indexTemplate, { db, coll: collection });
        const block = (on: boolean) =>
          fetch(`${endpoints.opensearch()}/${index}/_settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ 'index.blocks.write': on }) });
        await block(true);
        await sleep(options.outageSeconds * 1000);
        await block(false);
        return `index ${index} refused writes (index.blocks.write) for ${options.outageSeconds} s`;
      }
    }
  };

  // The workload and the faults run side by side, one fault at a time.
  let faultsStarted = 0;
  const faultRun = (async () => {
    for (const slot of slots) {
      while (operationsDone < slot.atOperation) await sleep(100);
      faultsStarted++;
      const at = second();
      options.log(`fault at ${at} s (operation ${operationsDone}): ${slot.fault}`);
      const detail = await injectFault(slot).catch((error: Error) => `failed to inject: ${error.message}`);
      faults.push({ fault: slot.fault, atSecond: at, detail });
    }
  })();
  const intervalMs = 1000 / options.opsPerSecond;
  let nextDue = Date.now();
  for (let step = 0; step < totalOperations; step++, operationsDone++) {
    // A fault still waiting for the one before it (an OpenSearch start can take minutes on a busy machine) holds the
    // workload at its operation, so every fault lands among the writes rather than after the last one.
    while (slots.slice(faultsStarted).some((slot) => slot.atOperation <= step)) await sleep(100);
    const which = random.int(COLLECTIONS.length);
    const collection = mongo.db(db).collection(COLLECTIONS[which] as string);
    const slot = random.int(options.idsPerCollection);
    const id = ids[which]?.[slot];
    const present = exists[which] as Set<number>;
    const roll = random.next();
    const kind = !present.has(slot) ? 'insert' : roll < 0.5 ? 'update' : roll < 0.75 ? 'replace' : 'delete';
    operations.attempted++;
    operations.byKind[kind] = (operations.byKind[kind] ?? 0) + 1;
    try {
      const document = adversarialDocument(random, id, step, options);
      if (kind === 'insert') {
        await collection.insertOne(document);
        present.add(slot);
      } else if (kind === 'update') {
        const { _id: _ignored, ...fields } = document;
        await collection.updateOne({ _id: id } as Document, { $set: fields });
      } else if (kind === 'replace') {
        const { _id: _ignored, ...fields } = document;
        await collection.replaceOne({ _id: id } as Document, fields);
      } else {
        await collection.deleteOne({ _id: id } as Document);
        present.delete(slot);
      }
    } catch (error) {
      operations.failed++;
      if (operations.failed <= 5) options.log(`workload ${kind} failed: ${(error as Error).message.slice(0, 200)}`);
    }
    // Paced from the previous operation, so a held workload resumes at the rate instead of in a burst.
    nextDue = Math.max(nextDue + intervalMs, Date.now());
    if (nextDue > Date.now()) await sleep(nextDue - Date.now());
  }
  await faultRun;
  options.log(`workload done at ${second()} s: ${JSON.stringify(operations)}`);

  // Drain: a clean stop, then bounded runs that exit 0 once everything reached the stores.
  pipeline.stoppedByHarness = true;
  killGroup(pipeline.child, 'SIGINT');
  await pipeline.exited;
  let drained = false;
  for (let attempt = 0; attempt < 3 && !drained; attempt++) {
    const run = startPipeline(env, ['--duration', '0'], logFile);
    drained = (await run.exited) === 0;
    options.log(`drain run ${attempt + 1}: ${drained ? 'drained' : 'not drained'} at ${second()} s`);
  }

  // Kafka: every record of the three topics, duplicates and per-key order.
  const kafka = localKafka('chaos');
  const records = await readAllRecords(kafka, topics, 600_000);
  let duplicates = 0;
  const orderViolations: string[] = [];
  const seen = new Map<string, { versions: Set<string>; newest: string }>();
  for (const record of records) {
    if (record.value === null) continue;
    const decoded = decodeRecord({ key: record.key, value: record.value });
    if (decoded.tombstone) continue;
    // Per-key commit order is the live stream's promise. A snapshot copy is out of that order by design: it carries the
    // version of the time it was read, and the sinks rank it against live changes by version alone.
    if (decoded.snapshot !== undefined) continue;
    const version = `${String(decoded.version.seconds).padStart(12, '0')}.${String(decoded.version.increment).padStart(10, '0')}.${String(decoded.version.ordinal).padStart(6, '0')}`;
    const key = `${record.topic}|${decoded.documentKeyJson}`;
    const history = seen.get(key) ?? { versions: new Set<string>(), newest: '' };
    if (history.versions.has(version)) duplicates++;
    else if (version < history.newest) orderViolations.push(`${key.slice(0, 200)}: ${version} after ${history.newest} (offset ${record.offset})`);
    history.versions.add(version);
    if (version > history.newest) history.newest = version;
    seen.set(key, history);
  }

  // Dead letters (relay and sinks) and batches given up on.
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.disconnect();
  const deadLetters: DeadLetterReport[] = [];
  for (const topic of [deadLetterTopic, sinkDeadLetterTopic].filter((name) => existing.has(name))) {
    for (const letter of await readAllRecords(kafka, [topic], 300_000)) {
      const code = letter.headers[DEAD_LETTER_HEADERS.code] ?? '';
      const reason = letter.headers[DEAD_LETTER_HEADERS.reason] ?? '';
      const explained = code === 'RECORD_TOO_LARGE' && (/record limit/.test(reason) || /DynamoDB refused the item .*size has exceeded/i.test(reason));
      // The whole key: a dead letter explains a difference only for exactly its document (long `_id`s run past 2 KB).
      deadLetters.push({ topic, key: letter.key?.toString('utf8') ?? '', code, reason: reason.slice(0, 600), kind: deadLetterKind(reason), explained });
    }
  }
  const onFailure = existing.has(onFailureTopic) ? (await readAllRecords(kafka, [onFailureTopic])).map((record) => record.value?.toString('utf8').slice(0, 600) ?? '') : [];

  // The stores against MongoDB.
  const dynamo = localDynamo();
  const items = await scanItems(dynamo, reportingTable);
  const collections: CollectionComparison[] = [];
  for (const coll of COLLECTIONS) {
    const truth = await mongo.db(db).collection(coll).find({}, AS_RELAYED).toArray();
    collections.push(
      await compareCollection({ db, coll, truth, dynamo: { client: dynamo, table: reportingTable, items }, opensearch: { url: endpoints.opensearch(), indexTemplate } }),
    );
  }

  // What no documented limit explains.
  const explainedKeys = new Set(deadLetters.filter((letter) => letter.explained).map((letter) => letter.key));
  const relayExplained = new Set(deadLetters.filter((letter) => letter.explained && letter.topic === deadLetterTopic).map((letter) => letter.key));
  const unexplained: string[] = [];
  if (!drained) unexplained.push('the pipeline did not drain (stall)');
  unexplained.push(...pipelineExits);
  for (const letter of deadLetters) if (!letter.explained) unexplained.push(`dead letter ${letter.code}: ${letter.reason.slice(0, 200)}`);
  for (const record of onFailure) unexplained.push(`batch given up on: ${record.slice(0, 200)}`);
  for (const violation of orderViolations) unexplained.push(`order violation ${violation}`);
  for (const comparison of collections) {
    for (const [store, differences] of [['dynamodb', comparison.dynamodb], ['opensearch', comparison.opensearch]] as const) {
      const allowed = store === 'dynamodb' ? explainedKeys : relayExplained;
      for (const [what, keys] of Object.entries(differences ?? {}) as Array<[string, string[]]>) {
        for (const key of keys) if (!allowed.has(key)) unexplained.push(`${store} ${comparison.coll}: ${what} ${key.slice(0, 200)}`);
      }
    }
  }

  await mongo.db(db).dropDatabase().catch(() => undefined);
  await mongo.close();
  if (unexplained.length === 0) {
    await dropTable(dynamo, controlTable);
    await dropTable(dynamo, reportingTable);
    await fetch(`${endpoints.opensearch()}/${indexTemplate.replace('{db}-{coll}', '*')}`, { method: 'DELETE' }).catch(() => undefined);
  }
  dynamo.destroy();
  return { seed: options.seed, durationSeconds: Math.round((Date.now() - runStarted) / 1000), operations, faults, drained, pipelineExits, kafka: { records: records.length, duplicates, orderViolations }, deadLetters, onFailure, collections, unexplained };
}

/** A dead letter's reason without its numbers and keys (read from the whole reason: a long key can push the end out). */
function deadLetterKind(reason: string): string {
  if (/exceeds the \d+-byte record limit/.test(reason)) return 'event over Kafka\'s record limit';
  if (/DynamoDB refused the item .*size has exceeded/i.test(reason)) return 'item over DynamoDB\'s 400 KB';
  return reason.slice(0, 120);
}

/** The report as a person reads it. */
export function describeReport(report: ChaosReport): string {
  const lines = [`chaos seed ${report.seed} (replay: npm run chaos -- --seed ${report.seed})`];
  lines.push(`operations: ${JSON.stringify(report.operations)}`);
  for (const fault of report.faults) lines.push(`fault at ${fault.atSecond} s: ${fault.fault}: ${fault.detail}`);
  lines.push(`drained: ${report.drained}`);
  for (const exit of report.pipelineExits) lines.push(`PIPELINE EXIT: ${exit}`);
  lines.push(`kafka: ${report.kafka.records} records, ${report.kafka.duplicates} duplicates (absorbed by versioned writes), ${report.kafka.orderViolations.length} per-key order violations`);
  for (const comparison of report.collections) {
    const count = (differences: { missing: string[]; extra: string[]; differing: string[] } | undefined) =>
      differences ? `missing ${differences.missing.length}, extra ${differences.extra.length}, differing ${differences.differing.length}` : 'not compared';
    lines.push(`${comparison.coll}: ${comparison.documents} documents in MongoDB; DynamoDB ${count(comparison.dynamodb)}; OpenSearch ${count(comparison.opensearch)}`);
  }
  const byReason = new Map<string, number>();
  for (const letter of report.deadLetters) {
    const what = `${letter.explained ? '' : 'UNEXPLAINED '}${letter.code}: ${letter.kind}`;
    byReason.set(what, (byReason.get(what) ?? 0) + 1);
  }
  lines.push(`dead letters: ${report.deadLetters.length}${[...byReason].map(([what, count]) => `; ${count} ${what}`).join('')}`);
  for (const letter of report.deadLetters) lines.push(`  ${letter.explained ? 'documented limit' : 'UNEXPLAINED'} ${letter.code}: ${letter.reason.slice(0, 240)}`);
  lines.push(`batches given up on (on-failure topic): ${report.onFailure.length}`);
  lines.push(`duration: ${report.durationSeconds} s`);
  lines.push(report.unexplained.length === 0 ? 'result: no loss beyond documented store limits' : `result: ${report.unexplained.length} unexplained:`);
  for (const line of report.unexplained.slice(0, 50)) lines.push(`  ${line}`);
  return lines.join('\n');
}
