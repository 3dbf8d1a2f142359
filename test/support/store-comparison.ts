import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BSON, type Document } from 'mongodb';
import { toAttributeMap } from '../../functions/sink-dynamodb/dynamo-item';
import { RESERVED_ATTRIBUTES, reportingKey } from '../../functions/sink-dynamodb/dynamo-reporting-store';
import { indexName, searchDocumentId, toSearchDocument, withUnindexedRestored } from '../../functions/sink-opensearch/search-document';

/*
 * How a test tells whether the stores equal MongoDB, document by document: the expected DynamoDB item and OpenSearch
 * source are built from the MongoDB document with the sinks' own mapping functions (the mappings themselves are
 * unit-tested), and what the stores hold is read back in full.
 */

const exact = { relaxed: false } as const;

/** The options the relay reads with, so expected contents are built from MongoDB exactly as it sees it. */
export const AS_RELAYED = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

export type Item = Record<string, AttributeValue>;

/** A decimal number's value as one spelling: DynamoDB gives back "1E+21" as "1000000000000000000000", "455.40" as "455.4". */
export function canonicalDecimal(text: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return text;
  const digits = `${match[2] ?? ''}${match[3] ?? ''}`;
  const stripped = digits.replace(/^0+/, '');
  if (stripped.replace(/0+$/, '') === '') return '0';
  const exponent = (match[2] ?? '').length + Number(match[4] ?? 0) - (digits.length - stripped.length);
  return `${match[1]}0.${stripped.replace(/0+$/, '')}e${exponent}`;
}

/** An attribute value with every number in canonical spelling, for comparing values rather than spellings. */
export function numbersByValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(numbersByValue);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, inner]) => [name, name === 'N' && typeof inner === 'string' ? canonicalDecimal(inner) : numbersByValue(inner)]),
  );
}

export async function scanItems(dynamo: DynamoDBClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Every document of an index, by its id (searched in pages, so large indices and documents are read in full). */
export async function searchDocuments(opensearchUrl: string, index: string): Promise<Map<string, Record<string, unknown>>> {
  await fetch(`${opensearchUrl}/${index}/_refresh`, { method: 'POST' });
  const documents = new Map<string, Record<string, unknown>>();
  let after: unknown[] | undefined;
  for (;;) {
    const response = await fetch(`${opensearchUrl}/${index}/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 200, sort: [{ _id: 'asc' }], query: { match_all: {} }, ...(after ? { search_after: after } : {}) }),
    });
    if (response.status === 404) return documents;
    const body = (await response.json()) as { hits?: { hits: Array<{ _id: string; _source: Record<string, unknown>; sort: unknown[] }> } };
    const hits = body.hits?.hits ?? [];
    for (const hit of hits) documents.set(hit._id, hit._source);
    if (hits.length < 200) return documents;
    after = hits[hits.length - 1]?.sort;
  }
}

export interface StoreDifferences {
  /** In MongoDB, not in the store (keys as documentKey JSON). */
  readonly missing: string[];
  /** In the store (live), not in MongoDB. */
  readonly extra: string[];
  /** In both, with different contents. */
  readonly differing: string[];
}

export interface CollectionComparison {
  readonly db: string;
  readonly coll: string;
  readonly documents: number;
  readonly dynamodb?: StoreDifferences;
  readonly opensearch?: StoreDifferences;
}

const documentKeyJson = (document: Document) => BSON.EJSON.stringify({ _id: document._id }, exact);

/** Compares one collection's MongoDB documents (read with AS_RELAYED) with the reporting table and/or the index. */
export async function compareCollection(options: {
  readonly db: string;
  readonly coll: string;
  readonly truth: readonly Document[];
  readonly dynamo?: { client: DynamoDBClient; table: string; items?: Item[] };
  readonly opensearch?: { url: string; indexTemplate: string };
}): Promise<CollectionComparison> {
  const { db, coll, truth } = options;
  const namespace = { db, coll };
  const result: { dynamodb?: StoreDifferences; opensearch?: StoreDifferences } = {};

  if (options.dynamo) {
    const items = options.dynamo.items ?? (await scanItems(options.dynamo.client, options.dynamo.table));
    const live = new Map(
      items
        .filter((item) => item._ns?.S === `${db}.${coll}` && item._op?.S !== 'delete')
        .map((item) => [item._key?.S ?? '', Object.fromEntries(Object.entries(item).filter(([name]) => !(RESERVED_ATTRIBUTES as readonly string[]).includes(name)))]),
    );
    const expected = new Map(truth.map((document) => [reportingKey(namespace, documentKeyJson(document)), document]));
    const differences: StoreDifferences = { missing: [], extra: [], differing: [] };
    for (const [key, document] of expected) {
      const item = live.get(key);
      if (!item) differences.missing.push(documentKeyJson(document));
      else if (JSON.stringify(numbersByValue(sorted(item))) !== JSON.stringify(numbersByValue(sorted(toAttributeMap(document))))) differences.differing.push(documentKeyJson(document));
    }
    for (const key of live.keys()) if (!expected.has(key)) differences.extra.push(key);
    result.dynamodb = differences;
  }

  if (options.opensearch) {
    const indexed = await searchDocuments(options.opensearch.url, indexName(options.opensearch.indexTemplate, namespace));
    const expected = new Map(truth.map((document) => [searchDocumentId(documentKeyJson(document)), document]));
    const differences: StoreDifferences = { missing: [], extra: [], differing: [] };
    for (const [id, document] of expected) {
      const source = indexed.get(id);
      if (!source) differences.missing.push(documentKeyJson(document));
      else if (JSON.stringify(sorted(withUnindexedRestored(source))) !== JSON.stringify(sorted(JSON.parse(JSON.stringify(toSearchDocument(document)))))) {
        differences.differing.push(documentKeyJson(document));
      }
    }
    for (const id of indexed.keys()) if (!expected.has(id)) differences.extra.push(id);
    result.opensearch = differences;
  }
  return { db, coll, documents: truth.length, ...result };
}

/** A copy with object keys in order, so two values compare by content whatever order their fields came in. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((name) => [name, sorted((value as Record<string, unknown>)[name])]));
}

export const isEmpty = (differences: StoreDifferences | undefined) =>
  !differences || differences.missing.length + differences.extra.length + differences.differing.length === 0;
