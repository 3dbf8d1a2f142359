import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../infra/stack/endpoints';
import { lambdaKafkaEventOf } from '../shared/lambda-kafka-event';
import { createReportingTable, dropTable, readAllRecords } from './support/local-clients';
import { RelayHarness } from './support/relay-harness';
import { uniqueName } from './support/unique-name';

/** A Lambda context whose clock really counts down, as the local runtime and AWS give it. */
function contextFor(budgetMs: number): Context {
  const deadline = Date.now() + budgetMs;
  return { awsRequestId: uniqueName('request'), getRemainingTimeInMillis: () => deadline - Date.now() } as unknown as Context;
}

describe('relay output through the real sink handlers', () => {
  const relay = new RelayHarness();
  const reportingTable = uniqueName('reporting');
  const indexPrefix = uniqueName('pipeline');

  let dynamoSink: typeof import('../functions/sink-dynamodb/handler');
  let searchSink: typeof import('../functions/sink-opensearch/handler');

  beforeAll(async () => {
    await relay.setUp();
    await createReportingTable(relay.dynamo, reportingTable);
    // The handlers read their configuration at cold start, exactly as in Lambda.
    Object.assign(process.env, {
      KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
      DYNAMODB_ENDPOINT: endpoints.dynamodb(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      REPORTING_TABLE: reportingTable,
      OPENSEARCH_URL: endpoints.opensearch(),
      SINK_INDEX_TEMPLATE: `${indexPrefix}-{db}-{coll}`,
      SINK_DEAD_LETTER_TOPIC: uniqueName('pipeline-dlq'),
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    dynamoSink = await import('../functions/sink-dynamodb/handler');
    searchSink = await import('../functions/sink-opensearch/handler');
  });

  /** Every record of the topics, through both sink handlers in Lambda-sized batches. */
  async function sinkAll(topics: string[]): Promise<void> {
    const records = await readAllRecords(relay.kafka, topics);
    for (let index = 0; index < records.length; index += 50) {
      const event = lambdaKafkaEventOf(records.slice(index, index + 50).map((record) => ({ ...record, offset: Number(record.offset) })));
      await dynamoSink.handler(event, contextFor(30_000));
      await searchSink.handler(event, contextFor(30_000));
    }
  }
  afterAll(async () => {
    await dropTable(relay.dynamo, reportingTable);
    await fetch(`${endpoints.opensearch()}/${indexPrefix}-*`, { method: 'DELETE' }).catch(() => undefined);
    await relay.tearDown();
  });

  it('leaves the reporting table and the index equal to MongoDB', async () => {
    // Prepare
    const db = uniqueName('pipeline');
    const stream = relay.stream({ database: db, collection: 'customers', topicPrefix: 'mongo-cdc' });
    await relay.run(stream, 1_500);
    const customers = relay.mongo.db(db).collection('customers');
    await customers.insertMany(Array.from({ length: 120 }, (_, index) => ({ _id: index, name: `customer ${index}`, since: new Date(1_700_000_000_000 + index) }) as Document));
    await customers.deleteMany({ _id: { $mod: [3, 0] } } as Document);
    await customers.insertOne({ _id: 0, name: 'customer 0 again', since: new Date(1_800_000_000_000) } as Document);

    // Act
    // 120 inserts, 40 deletes and one insert: relayed over as many invocations as this machine needs.
    await relay.runUntil(stream, async () => (await relay.relayedCount(stream.id)) >= 161);
    await sinkAll([`mongo-cdc.${db}.customers`]);

    // Assess
    const truth = await customers.find({}, { sort: { _id: 1 } }).toArray();
    const items = (await relay.dynamo.send(new ScanCommand({ TableName: reportingTable }))).Items ?? [];
    const live = items.filter((item) => item._op?.S !== 'delete');
    expect(live.map((item) => ({ _id: Number(item._id?.N), name: item.name?.S, since: item.since?.S })).sort((a, b) => a._id - b._id)).toEqual(
      truth.map((document) => ({ _id: document._id, name: document.name, since: (document.since as Date).toISOString() })),
    );
    expect(items.filter((item) => item._op?.S === 'delete')).toHaveLength(39);
    const index = `${indexPrefix}-${db}-customers`.toLowerCase();
    await fetch(`${endpoints.opensearch()}/${index}/_refresh`, { method: 'POST' });
    const search = (await (await fetch(`${endpoints.opensearch()}/${index}/_search?size=1000`)).json()) as {
      hits: { hits: Array<{ _source: { mongo_id: string; name: string } }> };
    };
    expect(search.hits.hits.map((hit) => Number(hit._source.mongo_id)).sort((a, b) => a - b)).toEqual(truth.map((document) => document._id));
  });

  it('relays and stores documents holding a field named _bsontype as the plain documents they are', async () => {
    // Prepare: such fields come from other drivers or old applications; the Node driver refuses to write one, so the
    // server renames a field into it.
    const db = uniqueName('bsontype');
    const stream = relay.stream({ database: db, collection: 'legacy', topicPrefix: 'mongo-cdc' });
    await relay.run(stream, 1_500);
    const legacy = relay.mongo.db(db).collection('legacy');
    await legacy.insertOne({ _id: 1, counter: { kind: 'Int32', value: 5 }, ref: { kind: 'ObjectID', id: 'abc' } } as Document);
    await legacy.updateOne({ _id: 1 } as Document, { $rename: { 'counter.kind': 'counter._bsontype', 'ref.kind': 'ref._bsontype' } });
    const stored = await legacy.findOne({ _id: 1 } as Document);
    expect(stored?.counter).toEqual({ value: 5, _bsontype: 'Int32' });

    // Act
    await relay.runUntil(stream, async () => (await relay.relayedCount(stream.id)) >= 2);
    await sinkAll([`mongo-cdc.${db}.legacy`]);

    // Assess
    const items = (await relay.dynamo.send(new ScanCommand({ TableName: reportingTable }))).Items ?? [];
    const item = items.find((candidate) => candidate._key?.S?.startsWith(`${db}.legacy|`));
    expect(item?.counter).toEqual({ M: { value: { N: '5' }, _bsontype: { S: 'Int32' } } });
    expect(item?.ref).toEqual({ M: { id: { S: 'abc' }, _bsontype: { S: 'ObjectID' } } });
    const index = `${indexPrefix}-${db}-legacy`.toLowerCase();
    await fetch(`${endpoints.opensearch()}/${index}/_refresh`, { method: 'POST' });
    const search = (await (await fetch(`${endpoints.opensearch()}/${index}/_search`)).json()) as { hits: { hits: Array<{ _source: Record<string, unknown> }> } };
    expect(search.hits.hits.map((hit) => hit._source)).toEqual([{ mongo_id: '1', counter: { value: 5, _bsontype: 'Int32' }, ref: { id: 'abc', _bsontype: 'ObjectID' } }]);
  });
});
