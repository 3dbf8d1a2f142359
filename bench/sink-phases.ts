// One sink benchmark phase per process, so each phase's peak RSS is its own. Prints one JSON line with the result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BatchWriteItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { toAttributeMap } from '../functions/sink-dynamodb/dynamo-item';
import { createSearchClient } from '../functions/sink-opensearch/search-client';
import { indexName, searchDocumentId, toSearchDocument } from '../functions/sink-opensearch/search-document';
import { type LambdaKafkaEvent, lambdaKafkaEventOf, type SourceRecord } from '../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../shared/record-format';
import type { SinkSummary } from '../shared/sink-runner';
import { localDynamo } from '../test/support/local-clients';

interface PhaseArgs {
  phase: 'dynamo-raw' | 'dynamo-put-ceiling' | 'dynamo-sink' | 'search-raw' | 'search-sink';
  events: number;
  table: string;
  db: string;
  indexTemplate: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as PhaseArgs;
const BATCH = 500; // the event source mapping's batch size in serverless.yml

function documentFor(id: number) {
  return { _id: new Int32(id), customer: `customer-${id % 997}`, status: ['new', 'paid', 'shipped'][id % 3], total: new Int32(id % 10_000), note: 'n'.repeat(400) };
}

/** A relay topic's partitions: a real event holds several, each record in its key's partition. */
const PARTITIONS = 3;

function recordsFor(from: number, to: number): SourceRecord[] {
  const records: SourceRecord[] = [];
  for (let id = from; id < to; id++) {
    const encoded = encodeChangeEvent(
      {
        _id: { _data: `t${id}` },
        operationType: 'insert',
        clusterTime: new Timestamp({ t: 1_790_000_000 + Math.floor(id / 1000), i: (id % 1000) + 1 }),
        ns: { db: args.db, coll: 'orders' },
        documentKey: { _id: new Int32(id) },
        fullDocument: documentFor(id),
      } as unknown as ChangeStreamDocument,
      { ordinal: 0 },
    );
    records.push({ topic: `mongo-cdc.${args.db}.orders`, partition: id % PARTITIONS, offset: Math.floor(id / PARTITIONS), ...encoded });
  }
  return records;
}

/**
 * The event Lambda's MSK event source mapping hands the handler for these records, as its runtime parses it from
 * JSON: grouped by "topic-partition", keys and values base64, each header's value an array of byte values.
 */
function mskEventFor(records: readonly SourceRecord[]): LambdaKafkaEvent {
  return JSON.parse(
    JSON.stringify({
      ...lambdaKafkaEventOf(records, 'aws:kafka'),
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/mongo-cdc/example-1',
      bootstrapServers: 'b-1.mongo-cdc.example.kafka.us-east-1.amazonaws.com:9098',
    }),
  ) as LambdaKafkaEvent;
}

/** The part of Lambda's context the sink handlers read: the time left, here ten minutes for every invocation. */
const context = { awsRequestId: 'bench', getRemainingTimeInMillis: () => 600_000 } as unknown as Context;

/**
 * The deployed handler module of a sink, loaded the way Lambda loads it (configuration read at cold start from these
 * variables): its own store, client, batching, dead-letter path, logger and metrics, pointed at the local stack.
 */
async function sinkHandler(sink: 'dynamodb' | 'opensearch', variables: Record<string, string>): Promise<(event: LambdaKafkaEvent, context: Context) => Promise<SinkSummary>> {
  Object.assign(process.env, {
    KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    SINK_DEAD_LETTER_TOPIC: `mongo-cdc.bench-dead-letter`,
    ...variables,
  });
  const module = sink === 'dynamodb' ? await import('../functions/sink-dynamodb/handler') : await import('../functions/sink-opensearch/handler');
  return module.handler;
}

async function inPool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++] as T);
  }));
}

/**
 * A full garbage collection, so that what building the inputs left behind is not collected (and counted) within the
 * timed span: without it, a phase's CPU per event swung by a third from run to run (14 to 21 µs a document for the
 * OpenSearch sink at one load), with one more mark-compact and twice the scavenging time in the slower runs.
 * The flag is set at run time because the phases' command lines are the benchmark runner's.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** A benchmark batch is all inserts of new documents: anything not applied means the phase measured something else. */
function expectAllApplied(summary: SinkSummary): void {
  if (summary.deadLettered > 0 || summary.applied !== summary.records) {
    throw new Error(`the sink applied ${summary.applied} of ${summary.records} records (${summary.deadLettered} dead-lettered)`);
  }
}

/**
 * Invokes the handler with each event in turn, as Lambda would, letting go of each event once handled: as in Lambda,
 * the heap then holds one invocation's event, not the whole benchmark's (whose marking would be counted otherwise).
 */
async function invokeAll(handler: (event: LambdaKafkaEvent, context: Context) => Promise<SinkSummary>, events: LambdaKafkaEvent[]): Promise<void> {
  for (let event = events.shift(); event !== undefined; event = events.shift()) expectAllApplied(await handler(event, context));
}

async function main(): Promise<void> {
  const search = createSearchClient({ url: endpoints.opensearch(), region: 'us-east-1' });
  // Inputs are built before the clock starts: the raw phases time only the writes; the sink phases time the deployed
  // handler from the event Lambda hands it to its answer (decoding, batching, writes, logging and metrics).
  const batches: SourceRecord[][] = [];
  for (let from = 0; from < args.events; from += BATCH) batches.push(recordsFor(from, Math.min(args.events, from + BATCH)));
  let started = Date.now();
  let cpuAtStart = process.cpuUsage();
  const startClock = () => {
    collectGarbage();
    started = Date.now();
    cpuAtStart = process.cpuUsage();
  };

  if (args.phase === 'dynamo-raw') {
    const client = localDynamo();
    const requests: Array<Array<Record<string, AttributeValue>>> = [];
    for (let from = 0; from < args.events; from += 25) {
      const items: Array<Record<string, AttributeValue>> = [];
      for (let id = from; id < Math.min(args.events, from + 25); id++) items.push({ _key: { S: `raw|${id}` }, ...toAttributeMap(documentFor(id)) });
      requests.push(items);
    }
    startClock();
    // BatchWriteItem: 25 items a request, the same parallelism the sink uses.
    await inPool(requests, 16, async (items) => {
      let unprocessed: Array<{ PutRequest: { Item: Record<string, AttributeValue> } }> = items.map((Item) => ({ PutRequest: { Item } }));
      while (unprocessed.length > 0) {
        const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [args.table]: unprocessed } }));
        unprocessed = (result.UnprocessedItems?.[args.table] ?? []) as typeof unprocessed;
      }
    });
  } else if (args.phase === 'dynamo-put-ceiling') {
    // DynamoDB Local's own limit for conditional single-item writes: the sink's items, bodies built before the clock,
    // sent over keep-alive HTTP with no SDK (DynamoDB Local does not check signatures), 64 in flight.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const endpoint = new URL(endpoints.dynamodb());
    const bodies: string[] = [];
    for (let id = 0; id < args.events; id++) {
      bodies.push(
        JSON.stringify({
          TableName: args.table,
          Item: { _key: { S: `ceiling|${id}` }, _version: { S: String(id).padStart(16, '0') }, ...toAttributeMap(documentFor(id)) },
          ConditionExpression: 'attribute_not_exists(#key) OR #version < :version',
          ExpressionAttributeNames: { '#key': '_key', '#version': '_version' },
          ExpressionAttributeValues: { ':version': { S: String(id).padStart(16, '0') } },
        }),
      );
    }
    const put = (body: string) =>
      new Promise<void>((resolve, reject) => {
        const request = http.request(
          {
            host: endpoint.hostname,
            port: endpoint.port,
            method: 'POST',
            path: '/',
            agent,
            headers: {
              'content-type': 'application/x-amz-json-1.0',
              'content-length': Buffer.byteLength(body),
              'x-amz-target': 'DynamoDB_20120810.PutItem',
              'x-amz-date': '20260101T000000Z',
              authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0',
            },
          },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`PutItem: ${response.statusCode} ${text}`))));
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    startClock();
    await inPool(bodies, 64, put);
  } else if (args.phase === 'dynamo-sink') {
    // The deployed handler, from the variables a deployed sink gets (DynamoDB Local's endpoint), fed MSK events.
    const handler = await sinkHandler('dynamodb', { REPORTING_TABLE: args.table, DYNAMODB_ENDPOINT: endpoints.dynamodb() });
    const events = batches.splice(0).map(mskEventFor);
    startClock();
    await invokeAll(handler, events);
  } else if (args.phase === 'search-raw') {
    const index = indexName(`${args.indexTemplate}-raw`, { db: args.db, coll: 'orders' });
    const bodies: string[] = [];
    for (let from = 0; from < args.events; from += BATCH) {
      const lines: string[] = [];
      for (let id = from; id < Math.min(args.events, from + BATCH); id++) {
        lines.push(`${JSON.stringify({ index: { _index: index, _id: searchDocumentId(String(id)) } })}\n${JSON.stringify(toSearchDocument(documentFor(id)))}\n`);
      }
      bodies.push(lines.join(''));
    }
    startClock();
    for (const body of bodies) {
      const response = await search.request('POST', '/_bulk', body);
      if (response.status !== 200 || (response.body as { errors?: boolean }).errors) throw new Error(`raw _bulk failed: ${response.status}`);
    }
  } else {
    // The deployed handler with its settings (SINK_OPENSEARCH_BULK_DOCUMENTS, ..._CONCURRENCY defaults), fed MSK events.
    const handler = await sinkHandler('opensearch', { OPENSEARCH_URL: endpoints.opensearch(), SINK_INDEX_TEMPLATE: `${args.indexTemplate}-sink` });
    const events = batches.splice(0).map(mskEventFor);
    startClock();
    await invokeAll(handler, events);
  }
  const cpu = process.cpuUsage(cpuAtStart);
  console.log(
    JSON.stringify({ events: args.events, ms: Date.now() - started, cpuMicros: cpu.user + cpu.system, maxRssBytes: process.resourceUsage().maxRSS * 1024 }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
