// One benchmark phase per process, so each phase's peak RSS is its own. Prints one JSON line with the result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type ChangeStreamDocument, MongoClient } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { decodeChangeEvent } from '../functions/relay/change-event-fields';
import { openChangeSource } from '../functions/relay/change-source';
import { DynamoCheckpointStore } from '../functions/relay/checkpoint-store';
import { KafkaRecordProducer, type OutgoingRecord } from '../functions/relay/record-producer';
import { readThreadFor } from '../functions/relay/read-thread';
import { relayEnvShape, streamSchema } from '../functions/relay/relay-config';
import { relayStream } from '../functions/relay/relay-stream';
import { relayDeps } from '../functions/relay/relay-wiring';
import { createProducer } from '../shared/kafka-client';
import { resumeTokenText } from '../shared/stream-position';
import { encodeChangeEvent } from '../shared/record-format';
import type { Logger } from '../shared/logger';
import type { Metrics, Unit } from '../shared/metrics';
import { localDynamo, localKafka } from '../test/support/local-clients';

interface PhaseArgs {
  phase: 'read' | 'produce' | 'relay' | 'naive' | 'follow';
  db: string;
  collection: string;
  startSeconds: number;
  events: number;
  topic: string;
  table: string;
  streamId: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as PhaseArgs;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const BATCH = 1000;

/** Counts relayed events as they are added: RecordingMetrics sums its whole history per call, too slow per event. */
class CountingMetrics implements Metrics {
  relayed = 0;
  add(name: string, _unit: Unit, value: number): void {
    if (name === 'EventsRelayed') this.relayed += value;
  }
  flush(): void {}
}

/** Wall time and this process's CPU (user + system) from the moment it is created. */
function stopwatch() {
  const wall = Date.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { ms: Date.now() - wall, cpuMicros: used.user + used.system };
  };
}

function report(result: { events: number; ms: number; cpuMicros: number } & Record<string, unknown>) {
  console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

async function readEvents(mongo: MongoClient, limit: number, onEvent: (event: ChangeStreamDocument) => void | Promise<void>) {
  const stream = streamSchema.parse({ id: 'bench', database: args.db, collection: args.collection });
  const source = openChangeSource(mongo, stream, { kind: 'startAtOperationTime', seconds: args.startSeconds, increment: 0 }, 200);
  let count = 0;
  while (count < limit) {
    const event = await source.tryNext();
    if (event) {
      count++;
      // Decoded as the driver's change stream decoded every event: the bare read costs what reading objects costs.
      await onEvent(decodeChangeEvent(event) as ChangeStreamDocument);
    }
  }
  await source.close();
}

/** The relay's own account of each batch (relay.batch): where the relay phase's wall time goes, printed to stderr. */
const batchTotals = { batches: 0, produceMs: 0, checkpointMs: 0 };
const batchTimings: Logger = {
  ...quiet,
  info(event) {
    const fields = event as { event?: string; produceMs?: number; checkpointMs?: number };
    if (fields.event !== 'relay.batch') return;
    batchTotals.batches++;
    batchTotals.produceMs += fields.produceMs ?? 0;
    batchTotals.checkpointMs += fields.checkpointMs ?? 0;
  },
};

async function main(): Promise<void> {
  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const kafka = localKafka('bench');
  // The deployed producer (shared/kafka-client.ts), so the benchmark measures what runs in Lambda.
  const producer = createProducer(kafka);
  // As the handler reads (RELAY_READ_THREAD); a warm container's thread is running already, so it starts untimed.
  const readThread =
    args.phase === 'relay' || args.phase === 'follow' ? readThreadFor(relayEnvShape.RELAY_READ_THREAD.parse(process.env.RELAY_READ_THREAD), endpoints.mongodbUri()) : undefined;
  await readThread?.start();
  if (args.phase === 'relay') console.error(`relay reads on the ${readThread ? 'read thread' : 'main thread'}`);
  // Each thread's busy time (event loop utilisation) over the timed span: which of the two limits the relay.
  const { eventLoopUtilization } = performance;
  const mainLoopAtStart = eventLoopUtilization();
  const readBusyAtStart = readThread?.busyMs() ?? 0;
  let elapsed = stopwatch();
  let events = args.events;

  if (args.phase === 'read') {
    await readEvents(mongo, args.events, () => undefined);
  } else if (args.phase === 'produce') {
    // The same records the relay would send, encoded before the clock starts: only producing is timed.
    const records: OutgoingRecord[] = [];
    await readEvents(mongo, args.events, (event) => {
      records.push({ topic: args.topic, ...encodeChangeEvent(event, { ordinal: 0 }) });
    });
    await producer.connect();
    elapsed = stopwatch();
    const sender = new KafkaRecordProducer(async () => producer, 1_048_588);
    for (let index = 0; index < records.length; index += BATCH) await sender.send(records.slice(index, index + BATCH));
  } else if (args.phase === 'naive') {
    // What most hand-written relays do: one send and one checkpoint write per event.
    await producer.connect();
    const dynamo = localDynamo();
    await readEvents(mongo, args.events, async (event) => {
      const encoded = encodeChangeEvent(event, { ordinal: 0 });
      await producer.send({ topic: args.topic, acks: -1, messages: [{ key: encoded.key, value: encoded.value, headers: encoded.headers }] });
      await dynamo.send(
        new PutItemCommand({
          TableName: args.table,
          Item: { streamId: { S: args.streamId }, resumeValue: { S: resumeTokenText(event._id) } },
        }),
      );
    });
  } else if (args.phase === 'follow') {
    events = await follow(mongo, producer, readThread);
    elapsed = followClock ?? elapsed;
  } else {
    await producer.connect();
    const store = new DynamoCheckpointStore(localDynamo(), args.table);
    const stream = streamSchema.parse({
      id: args.streamId,
      database: args.db,
      collection: args.collection,
      startAt: new Date(args.startSeconds * 1000).toISOString(),
      topics: { [`${args.db}.${args.collection}`]: args.topic },
    });
    const metrics = new CountingMetrics();
    while (metrics.relayed < args.events) {
      const deadline = Date.now() + 60_000;
      const outcome = await relayStream(
        relayDeps({ store, producer: async () => producer, mongo, readThread, stream, maxRequestBytes: 1_048_588, logger: batchTimings, metrics }),
        stream,
        { maxRecordBytes: 1_048_588, idleCheckpointMs: 30_000, safetyMarginMs: 1_000, leaseGraceMs: 1_000 },
        // End the invocation once everything is through, as a drained schedule would.
        { owner: `bench-${metrics.relayed}`, remainingMs: () => (metrics.relayed >= args.events ? 0 : deadline - Date.now()) },
      );
      if (outcome.status !== 'relayed') throw new Error(`relay ended with ${JSON.stringify(outcome)}`);
    }
    events = metrics.relayed;
  }
  if (batchTotals.batches > 0) console.error(`relay batches: ${JSON.stringify(batchTotals)}`);
  if (args.phase === 'relay') {
    const main = eventLoopUtilization(mainLoopAtStart);
    const wallMs = main.idle + main.active;
    const readMs = (readThread?.busyMs() ?? 0) - readBusyAtStart;
    console.error(
      `relay thread busy ${(main.utilization * 100).toFixed(0)}% of ${(wallMs / 1000).toFixed(1)} s` +
        (readThread ? `, read thread busy ${((readMs / wallMs) * 100).toFixed(0)}%` : ''),
    );
  }
  report({ events, ...elapsed() });
  await producer.disconnect();
  await mongo.close();
  await readThread?.close();
}

let followClock: (() => { ms: number; cpuMicros: number }) | undefined;

/**
 * The relay as deployed, in its own process, following a collection that another process writes to: it starts at
 * "now", prints "ready" once its change stream is open, and stops when the number of events written (a line on its
 * standard input) has been relayed, or when it has not got there within the drain time after that line.
 */
async function follow(
  mongo: MongoClient,
  producer: ReturnType<ReturnType<typeof localKafka>['producer']>,
  readThread: ReturnType<typeof readThreadFor>,
): Promise<number> {
  await producer.connect();
  const store = new DynamoCheckpointStore(localDynamo(), args.table);
  const stream = streamSchema.parse({ id: args.streamId, database: args.db, collection: args.collection, topics: { [`${args.db}.${args.collection}`]: args.topic } });
  const metrics = new CountingMetrics();
  let target: { events: number; deadline: number; relayedThen: number } | undefined;
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    const line = /^(\d+)\n/.exec(input);
    if (line && !target) target = { events: Number(line[1]), deadline: Date.now() + DRAIN_MS, relayedThen: metrics.relayed };
  });
  const logger: Logger = {
    ...quiet,
    info(event) {
      if ((event as { event?: string }).event === 'relay.start') {
        followClock = stopwatch();
        console.log('ready');
      }
    },
  };
  const remainingMs = () => {
    if (!target) return 600_000;
    return metrics.relayed >= target.events ? 0 : target.deadline - Date.now();
  };
  const outcome = await relayStream(
    relayDeps({ store, producer: async () => producer, mongo, readThread, stream, maxRequestBytes: 1_048_588, logger, metrics }),
    stream,
    { maxRecordBytes: 1_048_588, idleCheckpointMs: 30_000, safetyMarginMs: 0, leaseGraceMs: 1_000 },
    { owner: 'bench-follow', remainingMs },
  );
  if (outcome.status !== 'relayed') throw new Error(`relay ended with ${JSON.stringify(outcome)}`);
  process.stdin.destroy();
  return metrics.relayed;
}

/** How long the following relay may take, after the writes ended, to relay what was written. */
const DRAIN_MS = Number(process.env.BENCH_LATENCY_DRAIN_MS ?? 60_000);

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

