// One sink benchmark phase per process, so each phase's peak RSS is its own. Prints one JSON line with the result.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import http from 'node:http';
import { BatchWriteItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { endpoints } from '../infra/stack/endpoints';
import { toAttributeMap } from '../functions/sink-dynamodb/dynamo-item';
import { DynamoReportingStore } from '../functions/sink-dynamodb/dynamo-reporting-store';
import { createReportingClient } from '../functions/sink-dynamodb/reporting-client';
import { parseDynamoSinkEnv } from '../functions/sink-dynamodb/sink-dynamodb-config';
import { OpenSearchStore } from '../functions/sink-opensearch/opensearch-store';
import { createSearchClient } from '../functions/sink-opensearch/search-client';
import { parseOpenSearchSinkEnv } from '../functions/sink-opensearch/sink-opensearch-config';
import { indexName, searchDocumentId, toSearchDocument } from '../functions/sink-opensearch/search-document';
import type { SourceRecord } from '../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../shared/record-format';
import { prepareBatch } from '../shared/sink-batch';
import { prefixNaming } from '../shared/topic-naming';
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
    records.push({ topic: `mongo-cdc.${args.db}.orders`, partition: 0, offset: id, ...encoded });
  }
  return records;
}

async function inPool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++] as T);
  }));
}

async function main(): Promise<void> {
  const remaining = () => 600_000;
  const search = createSearchClient({ url: endpoints.opensearch(), region: 'us-east-1' });
  // Inputs are built before the clock starts; each phase times only what its store does (the sink also decodes).
  const batches: SourceRecord[][] = [];
  for (let from = 0; from < args.events; from += BATCH) batches.push(recordsFor(from, Math.min(args.events, from + BATCH)));
  let started = Date.now();
  let cpuAtStart = process.cpuUsage();
  const startClock = () => {
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
    // The client and settings the handler builds, from the variables a deployed sink gets (DynamoDB Local's endpoint).
    const env = parseDynamoSinkEnv({
      ...process.env,
      REPORTING_TABLE: args.table,
      DYNAMODB_ENDPOINT: endpoints.dynamodb(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    process.env.DYNAMODB_ENDPOINT = endpoints.dynamodb();
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = 'local';
    process.env.AWS_SECRET_ACCESS_KEY = 'local';
    const store = new DynamoReportingStore(createReportingClient({ maxAttempts: env.SINK_DYNAMODB_MAX_ATTEMPTS }), {
      table: env.REPORTING_TABLE,
      concurrency: env.SINK_DYNAMODB_CONCURRENCY,
    });
    startClock();
    for (const batch of batches) await store.apply(prepareBatch(batch, [prefixNaming()]).changes, remaining);
  } else if (args.phase === 'search-raw') {
    const bodies = batches.map((batch) =>
      batch
        .map((record) => {
          const id = Number(record.offset);
          return `${JSON.stringify({ index: { _index: indexName(`${args.indexTemplate}-raw`, { db: args.db, coll: 'orders' }), _id: searchDocumentId(String(id)) } })}\n${JSON.stringify(toSearchDocument(documentFor(id)))}\n`;
        })
        .join(''),
    );
    startClock();
    for (const body of bodies) {
      const response = await search.request('POST', '/_bulk', body);
      if (response.status !== 200 || (response.body as { errors?: boolean }).errors) throw new Error(`raw _bulk failed: ${response.status}`);
    }
  } else {
    // The settings the handler takes, from the same variables (SINK_OPENSEARCH_BULK_DOCUMENTS, ..._CONCURRENCY).
    const env = parseOpenSearchSinkEnv({ ...process.env, OPENSEARCH_URL: endpoints.opensearch() });
    const store = new OpenSearchStore(search, {
      indexTemplate: `${args.indexTemplate}-sink`,
      baseBackoffMs: 100,
      bulkDocuments: env.SINK_OPENSEARCH_BULK_DOCUMENTS,
      bulkConcurrency: env.SINK_OPENSEARCH_BULK_CONCURRENCY,
    });
    for (const batch of batches) {
      const outcome = await store.apply(prepareBatch(batch, [prefixNaming()], store.documentWriter).changes, remaining);
      if (outcome.rejected.length > 0) throw new Error(`sink rejected ${outcome.rejected.length}: ${outcome.rejected[0]?.reason}`);
    }
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
