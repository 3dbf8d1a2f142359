// One benchmark phase per process, so each phase's peak RSS is its own. Prints one JSON line with the result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type ChangeStreamDocument, MongoClient } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { openChangeSource } from '../functions/relay/change-source';
import { DynamoCheckpointStore } from '../functions/relay/checkpoint-store';
import { KafkaRecordProducer, type OutgoingRecord } from '../functions/relay/record-producer';
import { streamSchema } from '../functions/relay/relay-config';
import { relayStream } from '../functions/relay/relay-stream';
import { relayDeps } from '../functions/relay/relay-wiring';
import { createProducer } from '../shared/kafka-client';
import { resumeTokenText } from '../shared/stream-position';
import { encodeChangeEvent } from '../shared/record-format';
import type { Logger } from '../shared/logger';
import { RecordingMetrics } from '../shared/metrics';
import { localDynamo, localKafka } from '../test/support/local-clients';

interface PhaseArgs {
  phase: 'read' | 'produce' | 'relay' | 'naive';
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

async function readEvents(mongo: MongoClient, limit: number, onEvent: (event: ChangeStreamDocument) => void | Promise<void>) {
  const stream = streamSchema.parse({ id: 'bench', database: args.db, collection: args.collection });
  const source = openChangeSource(mongo, stream, { kind: 'startAtOperationTime', seconds: args.startSeconds, increment: 0 }, 200);
  let count = 0;
  while (count < limit) {
    const event = await source.tryNext();
    if (event) {
      count++;
      await onEvent(event);
    }
  }
  await source.close();
}

async function main(): Promise<void> {
  const mongo = new MongoClient(endpoints.mongodbUri());
  await mongo.connect();
  const kafka = localKafka('bench');
  // The deployed producer (shared/kafka-client.ts), so the benchmark measures what runs in Lambda.
  const producer = createProducer(kafka);
  const started = Date.now();
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
    const sendStarted = Date.now();
    const sender = new KafkaRecordProducer(async () => producer, 1_048_588);
    for (let index = 0; index < records.length; index += BATCH) await sender.send(records.slice(index, index + BATCH));
    report({ events, ms: Date.now() - sendStarted });
    return;
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
    const metrics = new RecordingMetrics();
    let relayed = 0;
    while (relayed < args.events) {
      const deadline = Date.now() + 60_000;
      const outcome = await relayStream(
        relayDeps({ store, producer: async () => producer, mongo, stream, maxRequestBytes: 1_048_588, logger: quiet, metrics }),
        stream,
        { maxRecordBytes: 1_048_588, idleCheckpointMs: 30_000, safetyMarginMs: 1_000, leaseGraceMs: 1_000 },
        // End the invocation once everything is through, as a drained schedule would.
        { owner: `bench-${relayed}`, remainingMs: () => (metrics.total('EventsRelayed') >= args.events ? 0 : deadline - Date.now()) },
      );
      if (outcome.status !== 'relayed') throw new Error(`relay ended with ${JSON.stringify(outcome)}`);
      relayed = metrics.total('EventsRelayed');
    }
    events = relayed;
  }
  report({ events, ms: Date.now() - started });
  await producer.disconnect();
  await mongo.close();

  function report(result: { events: number; ms: number }) {
    console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

