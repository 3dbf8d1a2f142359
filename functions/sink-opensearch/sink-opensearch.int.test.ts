import { type ChangeStreamDocument, Int32, Long, ObjectId, Timestamp, UUID } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints, external } from '../../infra/stack/endpoints';
import { stackDown, stackUp } from '../../infra/stack/stack';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../../shared/record-format';
import { buildChangeHistory, inOrderBatches, shuffledBatches } from '../../test/support/change-history';
import { SinkHarness } from '../../test/support/sink-harness';
import { uniqueName } from '../../test/support/unique-name';
import { OpenSearchStore } from './opensearch-store';
import { createSearchClient, type SearchClient } from './search-client';
import { indexName, mongoIdText, searchDocumentId, toSearchDocument, withUnindexedRestored } from './search-document';

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

  it('splits a batch into small sub-bulks in flight together, and counts each write by its own result', async () => {
    // Prepare: document 3 is held at a newer version already, and "amount" is mapped as a number.
    const splitDb = uniqueName('split');
    await harness.run('opensearch', store, [event(splitDb, 3, 'insert', 10, { v: 'newest' }), event(splitDb, 6, 'insert', 11, { amount: 5 })]);
    const small = new OpenSearchStore(client, { indexTemplate: template, baseBackoffMs: 100, bulkDocuments: 2, bulkConcurrency: 3 });

    // Act: written, written, stale (409), a delete of nothing (404), a mapping conflict (400, retried), written twice.
    const summary = await harness.run('opensearch', small, [
      event(splitDb, 1, 'insert', 1, { v: 'one' }),
      event(splitDb, 2, 'insert', 2, { v: 'two' }),
      event(splitDb, 3, 'insert', 3, { v: 'older' }),
      event(splitDb, 4, 'delete', 4),
      event(splitDb, 7, 'insert', 5, { amount: { nested: 'x' } }),
      event(splitDb, 8, 'insert', 6, { v: 'eight' }),
      event(splitDb, 9, 'insert', 7, { v: 'nine' }),
    ]);

    // Assess
    expect(summary).toMatchObject({ changes: 7, applied: 7, stale: 1, deadLettered: 0, fieldsNotIndexed: 1 });
    const documents = await allDocuments(indexName(template, { db: splitDb, coll: 'orders' }));
    const id = (n: number) => searchDocumentId(`{"_id":{"$numberInt":"${n}"}}`);
    expect([...documents.keys()].sort()).toEqual([1, 2, 3, 6, 7, 8, 9].map(id).sort());
    expect(documents.get(id(3))).toEqual({ mongo_id: '3', v: 'newest' });
    expect(documents.get(id(7))).toEqual({ mongo_id: '7', mongo_unindexed: { amount: { nested: 'x' } } });
  });

  it('keeps every _bulk request under the byte limit, a batch of large documents split by size', async () => {
    // Prepare: 40 documents of ~30 KB each, a 64 KiB limit, and a client that records each _bulk body's size.
    const sizedDb = uniqueName('sized');
    const bulkBodyBytes: number[] = [];
    const measuring: SearchClient = {
      request: (method, path, body, signal) => {
        if (path.startsWith('/_bulk') && body !== undefined) bulkBodyBytes.push(Buffer.byteLength(body));
        return client.request(method, path, body, signal);
      },
    };
    const bySize = new OpenSearchStore(measuring, { indexTemplate: template, baseBackoffMs: 100, bulkBytes: 65_536 });
    const records = Array.from({ length: 40 }, (_, n) => event(sizedDb, n, 'insert', n + 1, { n, text: `${n}`.padEnd(30_000, 'x') }));

    // Act
    const summary = await harness.run('opensearch', bySize, records);

    // Assess: all written, in more requests than the 250-document limit alone would make, none over the limit.
    expect(summary).toMatchObject({ changes: 40, applied: 40, deadLettered: 0 });
    expect(bulkBodyBytes.length).toBeGreaterThanOrEqual(20);
    expect(Math.max(...bulkBodyBytes)).toBeLessThanOrEqual(65_536);
    const documents = await allDocuments(indexName(template, { db: sizedDb, coll: 'orders' }));
    expect(documents.size).toBe(40);
  });

  it('indexes a document field named "version" holding digits as the string it is', async () => {
    // Prepare: the bulk metadata carries "version" too; only the metadata's may become a bare number.
    const versionDb = uniqueName('version');

    // Act
    await harness.run('opensearch', store, [event(versionDb, 1, 'insert', 1, { version: '7', nested: { version: '0042' } })]);

    // Assess
    const [source] = (await allDocuments(indexName(template, { db: versionDb, coll: 'orders' }))).values();
    expect(source).toEqual({ mongo_id: '1', version: '7', nested: { version: '0042' } });
  });

  it('indexes a document whose fields conflict with the mapping, those fields kept unindexed, found by its others', async () => {
    // Prepare: "amount" becomes a number and "tags" an array of strings in the mapping.
    const mappingDb = uniqueName('mapping');
    await harness.run('opensearch', store, [event(mappingDb, 1, 'insert', 1, { amount: 5, tags: ['a'], meta: { size: 1 } })]);
    const before = harness.metrics.total('FieldsNotIndexed');

    // Act: a type that changed, a mixed-type array, a nested field whose type changed, and one document that fits.
    const summary = await harness.run('opensearch', store, [
      event(mappingDb, 2, 'insert', 2, { amount: { nested: 'object' }, name: 'second', tags: ['b', { x: 1 }], meta: { size: 'big', colour: 'red' } }),
      event(mappingDb, 3, 'insert', 3, { amount: 7, name: 'third' }),
    ]);

    // Assess
    expect(summary).toMatchObject({ applied: 2, deadLettered: 0, fieldsNotIndexed: 3 });
    expect(harness.metrics.total('FieldsNotIndexed') - before).toBe(3);
    const index = indexName(template, { db: mappingDb, coll: 'orders' });
    const documents = await allDocuments(index);
    const second = documents.get(searchDocumentId('{"_id":{"$numberInt":"2"}}')) ?? {};
    expect(second).toEqual({
      mongo_id: '2',
      name: 'second',
      meta: { colour: 'red' },
      mongo_unindexed: { amount: { nested: 'object' }, tags: ['b', { x: 1 }], 'meta.size': 'big' },
    });
    expect(withUnindexedRestored(second)).toEqual(JSON.parse(JSON.stringify(toSearchDocument({ _id: 2, amount: { nested: 'object' }, name: 'second', tags: ['b', { x: 1 }], meta: { size: 'big', colour: 'red' } }))));
    const found = await client.request('POST', `/${index}/_search`, JSON.stringify({ query: { term: { 'meta.colour.keyword': 'red' } } }));
    expect((found.body as { hits: { hits: Array<{ _id: string }> } }).hits.hits.map((hit) => hit._id)).toEqual([searchDocumentId('{"_id":{"$numberInt":"2"}}')]);
  });

  it('maps mongo_id as a keyword, so _ids of every kind share one index and are found by their text', async () => {
    // Prepare
    const idsDb = uniqueName('ids');
    const ids: unknown[] = [new Int32(5), '5x', new ObjectId('64b7f0c2a1b2c3d4e5f60718'), { tenant: 'a', n: new Int32(1) }, new Long('9007199254740993'), 2.5, new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d')];
    const records = ids.map((id, index) => {
      const encoded = encodeChangeEvent(
        {
          _id: { _data: `id${index}` },
          operationType: 'insert',
          clusterTime: new Timestamp({ t: 1_790_000_000, i: index + 1 }),
          ns: { db: idsDb, coll: 'orders' },
          documentKey: { _id: id },
          fullDocument: { _id: id, n: new Int32(index) },
        } as unknown as ChangeStreamDocument,
        { ordinal: 0 },
      );
      return { topic: `mongo-cdc.${idsDb}.orders`, partition: 0, offset: index, ...encoded };
    });

    // Act
    const summary = await harness.run('opensearch', store, records);

    // Assess
    expect(summary).toMatchObject({ applied: ids.length, deadLettered: 0 });
    const index = indexName(template, { db: idsDb, coll: 'orders' });
    const mapping = await client.request('GET', `/${index}/_mapping`);
    expect(JSON.stringify(mapping.body)).toContain('"mongo_id":{"type":"keyword"}');
    const texts = [...(await allDocuments(index)).values()].map((source) => source.mongo_id).sort();
    expect(texts).toEqual(ids.map((id) => mongoIdText(id)).sort());
    expect(texts).toContain('64b7f0c2a1b2c3d4e5f60718');
    expect(texts).toContain('9007199254740993');
    const found = await client.request('POST', `/${index}/_search`, JSON.stringify({ query: { term: { mongo_id: '5x' } } }));
    expect((found.body as { hits: { total: { value: number } } }).hits.total.value).toBe(1);
  });

  it('waits out an index write block (as a flood-stage disk watermark sets) instead of dead-lettering', async () => {
    // Prepare
    const blockedDb = uniqueName('blocked');
    await harness.run('opensearch', store, [event(blockedDb, 1, 'insert', 1, { v: 1 })]);
    const index = indexName(template, { db: blockedDb, coll: 'orders' });
    await client.request('PUT', `/${index}/_settings`, JSON.stringify({ 'index.blocks.write': true }));

    // Act: the block lifts once the sink has been refused at least once.
    const run = harness.run('opensearch', store, [event(blockedDb, 2, 'insert', 2, { v: 2 })]);
    await new Promise((done) => setTimeout(done, 1_500));
    await client.request('PUT', `/${index}/_settings`, JSON.stringify({ 'index.blocks.write': false }));
    const summary = await run;

    // Assess
    expect(summary).toMatchObject({ applied: 1, deadLettered: 0 });
    expect((await allDocuments(index)).size).toBe(2);
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
