import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BSON, type Document } from 'mongodb';
import { DynamoReportingStore, RESERVED_ATTRIBUTES } from '../../functions/sink-dynamodb/dynamo-reporting-store';
import { toAttributeMap } from '../../functions/sink-dynamodb/dynamo-item';
import { OpenSearchStore } from '../../functions/sink-opensearch/opensearch-store';
import { createSearchClient } from '../../functions/sink-opensearch/search-client';
import { indexName, searchDocumentId, toSearchDocument } from '../../functions/sink-opensearch/search-document';
import { endpoints } from '../../infra/stack/endpoints';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { createReportingTable, dropTable, type ReadRecord } from './local-clients';
import type { SinkHarness } from './sink-harness';
import { uniqueName } from './unique-name';

const keyOf = (id: unknown) => BSON.EJSON.stringify({ _id: id }, { relaxed: false });

/** A DynamoDB reporting table and an OpenSearch index fed by the real sink code, compared with MongoDB afterwards. */
export class ReportingPair {
  readonly table = uniqueName('reporting');
  private readonly indexPrefix = uniqueName('snap').toLowerCase();
  readonly indexTemplate = `${this.indexPrefix}-{db}-{coll}`;
  private readonly search = createSearchClient({ url: endpoints.opensearch(), region: 'us-east-1' });
  readonly dynamoStore: DynamoReportingStore;
  readonly searchStore: OpenSearchStore;

  constructor(private readonly dynamo: DynamoDBClient) {
    this.dynamoStore = new DynamoReportingStore(dynamo, { table: this.table, concurrency: 16 });
    this.searchStore = new OpenSearchStore(this.search, { indexTemplate: this.indexTemplate, baseBackoffMs: 100 });
  }

  async setUp(): Promise<this> {
    await createReportingTable(this.dynamo, this.table);
    return this;
  }

  /** Feeds records in the given order, in sink-sized batches, to both sinks; returns how many were dead-lettered. */
  async apply(sinks: SinkHarness, records: readonly ReadRecord[], batchSize = 500): Promise<number> {
    let deadLettered = 0;
    for (let start = 0; start < records.length; start += batchSize) {
      const batch: SourceRecord[] = records.slice(start, start + batchSize).map((record) => ({ ...record, offset: Number(record.offset) }));
      deadLettered += (await sinks.run('dynamodb', this.dynamoStore, batch)).deadLettered;
      deadLettered += (await sinks.run('opensearch', this.searchStore, batch)).deadLettered;
    }
    return deadLettered;
  }

  /** Every live item of the table, keyed by documentKey JSON, without the sink's own attributes. */
  async dynamoDocuments(): Promise<Map<string, Record<string, AttributeValue>>> {
    const documents = new Map<string, Record<string, AttributeValue>>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: startKey }));
      for (const item of page.Items ?? []) {
        if (item._op?.S === 'delete') continue;
        // _key is "<db>.<coll>|<documentKey JSON>".
        const key = (item._key?.S ?? '').replace(/^[^|]*\|/, '');
        const document = { ...item };
        for (const name of RESERVED_ATTRIBUTES) delete document[name];
        documents.set(key, document);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return documents;
  }

  /** Every document of the namespace's index, keyed by index id, read with a scroll. */
  async searchDocuments(namespace: { db: string; coll: string }): Promise<Map<string, unknown>> {
    const index = indexName(this.indexTemplate, namespace);
    await this.search.request('POST', `/${index}/_refresh`);
    const documents = new Map<string, unknown>();
    type Page = { _scroll_id?: string; hits?: { hits?: Array<{ _id: string; _source: unknown }> } };
    let page = (await this.search.request('POST', `/${index}/_search?scroll=1m`, JSON.stringify({ size: 5000, sort: ['_doc'] }))).body as Page;
    while ((page.hits?.hits?.length ?? 0) > 0) {
      for (const hit of page.hits?.hits ?? []) documents.set(hit._id, hit._source);
      page = (await this.search.request('POST', '/_search/scroll', JSON.stringify({ scroll: '1m', scroll_id: page._scroll_id }))).body as Page;
    }
    return documents;
  }

  /** Asserts both stores hold exactly the collection's documents, each mapped as the sinks map it. */
  async differences(namespace: { db: string; coll: string }, truth: readonly Document[]): Promise<string[]> {
    const problems: string[] = [];
    const items = await this.dynamoDocuments();
    const hits = await this.searchDocuments(namespace);
    if (items.size !== truth.length) problems.push(`DynamoDB holds ${items.size} documents, MongoDB ${truth.length}`);
    if (hits.size !== truth.length) problems.push(`OpenSearch holds ${hits.size} documents, MongoDB ${truth.length}`);
    for (const document of truth) {
      const key = keyOf(document._id);
      const item = items.get(key);
      if (!item) problems.push(`DynamoDB lacks ${key}`);
      else if (JSON.stringify(sorted(item)) !== JSON.stringify(sorted(toAttributeMap(document)))) problems.push(`DynamoDB differs at ${key}`);
      const hit = hits.get(searchDocumentId(key));
      if (hit === undefined) problems.push(`OpenSearch lacks ${key}`);
      else if (JSON.stringify(sorted(hit)) !== JSON.stringify(sorted(JSON.parse(JSON.stringify(toSearchDocument(document)))))) {
        problems.push(`OpenSearch differs at ${key}`);
      }
      if (problems.length > 20) break;
    }
    return problems;
  }

  async tearDown(): Promise<void> {
    await dropTable(this.dynamo, this.table);
    await this.search.request('DELETE', `/${this.indexPrefix}-*`).catch(() => undefined);
  }
}

/** Object keys in a stable order, recursively, so two equal values print alike. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)]));
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
