// The MongoDB Kafka Connector source (Kafka Connect standalone, Java) relaying the same change stream into the same
// broker: the baseline the relay is compared with. Its throughput is read from the topic's offsets, its CPU and memory
// from /proc, so nothing in the JVM is instrumented.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { jarsIn, resolveArtifacts } from '../infra/stack/artifacts';
import { endpoints } from '../infra/stack/endpoints';
import { stateDir } from '../infra/stack/stack-settings';
import { createServedTopics } from '../test/support/test-topics';

/**
 * How long the connector may go without a new record. Before its first one the JVM starts, scans its plugins and
 * starts the task: on a busy machine that alone took 100 s, so the first record gets longer than the later ones.
 */
const START_MS = 300_000;
const STALL_MS = 120_000;

export interface ConnectorArgs {
  db: string;
  collection: string;
  /** Cluster time (seconds) to start the change stream at, as the relay phases do. */
  startSeconds: number;
  events: number;
  topicPrefix: string;
  runId: string;
  /**
   * The connector names its topic from the events' `ns`. The stand-in's events once lacked it, so against the stand-in
   * a pipeline stage sets it (server-side, so it costs the connector nothing); the stand-in now sends `ns` as MongoDB
   * does, and the stage only writes the same value again. Against a real MongoDB nothing is added.
   */
  addNamespace: boolean;
}

export interface ConnectorResult {
  events: number;
  /** From the first record in the topic to the last one. */
  ms: number;
  /** JVM process CPU (user + system) over the same span. */
  cpuMicros: number;
  maxRssBytes: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in microseconds. */
function processCpuMicros(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields of the whole line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

function peakRssBytes(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

const properties = (entries: Record<string, string | number>) =>
  Object.entries(entries)
    .map(([key, value]) => `${key}=${String(value).replace(/\\/g, '\\\\')}`)
    .join('\n');

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts Kafka Connect standalone with the MongoDB source connector reading `db.collection` from `startSeconds`, waits
 * until `events` records are in its topic, and stops it. Settings mirror the relay's: canonical Extended JSON values,
 * `updateLookup`, the idempotent producer with acks=all (Connect's default for source tasks), the connector's default
 * batch size of 1,000.
 */
export async function runConnector(args: ConnectorArgs, progress: (line: string) => void): Promise<ConnectorResult> {
  const jars = resolveArtifacts('mongodb-kafka-connector', progress);
  const home = resolve(stateDir, 'bench', `connect-${args.runId}`);
  mkdirSync(home, { recursive: true });
  const topic = `${args.topicPrefix}.${args.db}.${args.collection}`;
  const workerPath = resolve(home, 'worker.properties');
  const connectorPath = resolve(home, 'mongodb-source.properties');
  const log4jPath = resolve(home, 'log4j2.properties');
  writeFileSync(
    workerPath,
    properties({
      'bootstrap.servers': endpoints.kafkaBrokers().join(','),
      'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
      'value.converter': 'org.apache.kafka.connect.storage.StringConverter',
      'offset.storage.file.filename': resolve(home, 'connect.offsets'),
      'offset.flush.interval.ms': 10_000,
      listeners: `http://127.0.0.1:${await freePort()}`,
      'producer.enable.idempotence': 'true',
      'producer.acks': 'all',
    }),
  );
  writeFileSync(
    connectorPath,
    properties({
      name: `mongodb-source-${args.runId}`,
      'connector.class': 'com.mongodb.kafka.connect.MongoSourceConnector',
      'tasks.max': 1,
      'connection.uri': endpoints.mongodbUri(),
      database: args.db,
      collection: args.collection,
      'topic.prefix': args.topicPrefix,
      'startup.mode': 'timestamp',
      'startup.mode.timestamp.start.at.operation.time': String(args.startSeconds),
      'change.stream.full.document': 'updateLookup',
      ...(args.addNamespace ? { pipeline: JSON.stringify([{ $addFields: { ns: { db: args.db, coll: args.collection } } }]) } : {}),
      'output.format.key': 'json',
      'output.format.value': 'json',
      'output.json.formatter': 'com.mongodb.kafka.connect.source.json.formatter.ExtendedJson',
    }),
  );
  writeFileSync(
    log4jPath,
    [
      'status = warn',
      'appender.file.type = File',
      'appender.file.name = file',
      `appender.file.fileName = ${resolve(home, 'connect.log')}`,
      'appender.file.layout.type = PatternLayout',
      'appender.file.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = info',
      'rootLogger.appenderRef.file.ref = file',
    ].join('\n'),
  );

  const kafka = new Kafka({ clientId: 'bench-connector', brokers: endpoints.kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  // Created (leaders elected) before Connect starts, as the relay phases' topics are by the broker's defaults, so the
  // offsets polled below never race the topic's creation.
  await createServedTopics(kafka, [topic], 3);
  // connect-standalone.sh's heap, so the memory figure is what a user of the stock script sees.
  const child = spawn(
    'java',
    ['-Xms256M', '-Xmx2G', `-Dlog4j2.configurationFile=${log4jPath}`, '-cp', jarsIn(jars), 'org.apache.kafka.connect.cli.ConnectStandalone', workerPath, connectorPath],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const pid = child.pid;
  if (pid === undefined) throw new Error('Kafka Connect did not start');
  try {
    const inTopic = async () => (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0);
    let first: { at: number; cpu: number } | undefined;
    let last = { count: 0, at: Date.now() };
    for (;;) {
      if (child.exitCode !== null) throw new Error(`Kafka Connect exited with ${child.exitCode}: ${stderr.slice(-1500)}`);
      const count = await inTopic();
      const at = Date.now();
      if (count > 0 && !first) first = { at, cpu: processCpuMicros(pid) };
      if (count >= args.events && first) {
        return { events: count, ms: at - first.at, cpuMicros: processCpuMicros(pid) - first.cpu, maxRssBytes: peakRssBytes(pid) };
      }
      if (count > last.count) last = { count, at };
      else if (at - last.at > (first ? STALL_MS : START_MS)) {
        const what = first ? `stopped at ${count} of ${args.events} records` : 'sent no record';
        throw new Error(`the connector ${what} for ${Math.round((at - last.at) / 1000)} s; see ${resolve(home, 'connect.log')}`);
      }
      await new Promise((done) => setTimeout(done, 100));
    }
  } finally {
    await stop(child);
    await admin.disconnect();
  }
}
