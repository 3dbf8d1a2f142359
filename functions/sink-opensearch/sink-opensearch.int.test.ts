import { BSON, type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints, external } from '../../infra/stack/endpoints';
import { stackDown, stackUp } from '../../infra/stack/stack';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../../shared/record-format';
import { buildChangeHistory, inOrderBatches, shuffledBatches } from '../../test/support/change-history';
import { SinkHarness } from '../../test/support/sink-harness';
import { uniqueName } from '../../test/support/unique-name';
import { OpenSearchStore } from './opensearch-store';
import { createSearchClient } from './search-client';
import { indexName, searchDocumentId, toSearchDocument } from './search-document';

const client = createSearchClient({ url: endpoints.opensearch(), region: 'us-east-1' });

async function allDocuments(index: string): Promise<Map<string, Record<string, unknown>>> {
  await client.request('POST', `/${index}/_refresh`);
  const response = await client.request('POST', `/${index}/_search?size=10000`, JSON.stringify({ query: { match_all: {} } }));
  const hits = (response.body as { hits: { hits: Array<{ _id: string; _source: Record<string, unknown> }> } }).hits.hits;
  return new Map(hits.map((hit) => [hit._id, hit._source]));
}

function event(db: string, id: number, operationType: string, increment: number, document?: Record<string, unknown>): SourceRecord {
  const encoded = encodeChangeEvent(
    {
      _id: { _data: `t${increment}` },
      operationType,
      clusterTime: new Timestamp({ t: 1_790_000_000, i: increment }),
      ns: { db, coll: 'orders' },
      documentKey: { _id: new Int32(id) },
      ...(document ? { fullDocument: { _id: new Int32(id), ...document } } : {}),
    } as unknown as ChangeStreamDocument,
    { ordinal: 0 },
  );
  return { topic: `mongo-cdc.${db}.orders`, partition: 0, offset: increment, ...encoded };
}

describe('OpenSearch sink (OpenSearch 2.x, Kafka)', () => {
  const harness = new SinkHarness();
  const template = `${uniqueName('sink')}-{db}-{coll}`;
  const store = new OpenSearchStore(client, { indexTemplate: template, baseBackoffMs: 100 });
  const db = 'shop';

  beforeAll(async () => {
    await harness.setUp();
  });
  afterAll(async () => {
    await harness.tearDown();
    await client.request('DELETE', `/${indexName(template, { db: '*', coll: '*' })}`).catch(() => undefined);
  });

  it('equals the final state after 10,000 mixed changes delivered in order and redelivered twice shuffled', async () => {
    // Prepare
    const history = buildChangeHistory({ db, coll: 'mixed', topic: `mongo-cdc.${db}.mixed`, documents: 300, operations: 10_000, partitions: 3, seed: 5 });

    // Act
    for (const batch of inOrderBatches(history.records, 500)) await harness.run('opensearch', store, batch);
    for (const seed of [17, 19]) for (const batch of shuffledBatches(history.records, 500, seed)) await harness.run('opensearch', store, batch);

    // Assess
    const documents = await allDocuments(indexName(template, { db, coll: 'mixed' }));
    const expected = new Map<string, Record<string, unknown>>();
    for (const [documentKeyJson, document] of history.finalState) {
      if (document) expected.set(searchDocumentId(documentKeyJson), toSearchDocument(document));
    }
    expect(documents.size).toBe(expected.size);
    expect(documents).toEqual(expected);
    expect(harness.metrics.total('StaleSkipped')).toBeGreaterThan(0);
  });

  it('lets a delete beat a late older update', async () => {
    const lateDb = uniqueName('late');
    await harness.run('opensearch', store, [event(lateDb, 1, 'insert', 1, { v: 'one' })]);
    await harness.run('opensearch', store, [event(lateDb, 1, 'delete', 3)]);
    const late = await harness.run('opensearch', store, [event(lateDb, 1, 'update', 2, { v: 'two' })]);

    expect(late).toMatchObject({ applied: 1, stale: 1 });
    expect((await allDocuments(indexName(template, { db: lateDb, coll: 'orders' }))).size).toBe(0);
  });

  it('indexes a document field named "version" holding digits as the string it is', async () => {
    // Prepare: the bulk metadata carries "version" too; only the metadata's may become a bare number.
    const versionDb = uniqueName('version');

    // Act
    await harness.run('opensearch', store, [event(versionDb, 1, 'insert', 1, { version: '7', nested: { version: '0042' } })]);

    // Assess
    const [source] = (await allDocuments(indexName(template, { db: versionDb, coll: 'orders' }))).values();
    expect(source).toEqual({ mongo_id: 1, version: '7', nested: { version: '0042' } });
  });

  it('dead-letters a document the index refuses, with the reason, and applies the rest', async () => {
    const mappingDb = uniqueName('mapping');
    await harness.run('opensearch', store, [event(mappingDb, 1, 'insert', 1, { amount: 5 })]);
    // "amount" is now a number in the mapping; an object there cannot be indexed.
    const summary = await harness.run('opensearch', store, [
      event(mappingDb, 2, 'insert', 2, { amount: { nested: 'object' } }),
      event(mappingDb, 3, 'insert', 3, { amount: 7 }),
    ]);

    expect(summary).toMatchObject({ applied: 1, deadLettered: 1 });
    const dead = (await harness.deadLetters()).find((record) => record.headers['cdc-dlq-source-topic'] === `mongo-cdc.${mappingDb}.orders`);
    expect(dead?.headers['cdc-dlq-reason']).toMatch(/mapper_parsing_exception|illegal_argument/);
    expect(dead?.headers['cdc-dlq-code']).toBe('STORE_REJECTED');
    expect(BSON.EJSON.parse(dead?.value?.toString() ?? '{}')).toMatchObject({ operationType: 'insert' });
  });

  it.skipIf(external.opensearch())('fails the batch while OpenSearch is down, and the retry succeeds once it is back', async () => {
    const downDb = uniqueName('down');
    const record = event(downDb, 9, 'insert', 1, { v: 'retry me' });
    await stackDown(() => undefined, ['opensearch']);
    let failure: unknown;
    try {
      await harness.run('opensearch', new OpenSearchStore(client, { indexTemplate: template, baseBackoffMs: 100 }), [record], 8_000).then(
        () => undefined,
        (error: unknown) => {
          failure = error;
        },
      );
    } finally {
      await stackUp(() => undefined, ['opensearch']);
    }

    const retried = await harness.run('opensearch', store, [record]);

    expect(failure).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(retried).toMatchObject({ applied: 1 });
    expect((await allDocuments(indexName(template, { db: downDb, coll: 'orders' }))).size).toBe(1);
  }, 240_000);
});
