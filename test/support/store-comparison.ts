import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BSON, type Document, type MongoClient } from 'mongodb';
import { expect } from 'vitest';
import { toAttributeMap } from '../../functions/sink-dynamodb/dynamo-item';
import { RESERVED_ATTRIBUTES } from '../../functions/sink-dynamodb/dynamo-reporting-store';
import { indexName, searchDocumentId, toSearchDocument } from '../../functions/sink-opensearch/search-document';

const exact = { relaxed: false } as const;
// The relay reads with these options, so the expected store contents are built from MongoDB exactly as it sees it.
const asRelayed = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** DynamoDB stores a number's value, not its spelling (Decimal128 "455.40" reads back as "455.4"): compare values. */
function numbersByValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(numbersByValue);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, inner]) =>
      name === 'N' && typeof inner === 'string'
        ? [name, inner.includes('.') ? inner.replace(/0+$/, '').replace(/\.$/, '') : inner]
        : [name, numbersByValue(inner)],
    ),
  );
}

export interface Stores {
  readonly mongo: MongoClient;
  readonly dynamo: DynamoDBClient;
  readonly reportingTable: string;
  readonly opensearchUrl: string;
  readonly indexTemplate: string;
}

/**
 * Asserts that the DynamoDB table and the OpenSearch index hold exactly MongoDB's documents of one collection, document
 * by document (deletes are tombstones in DynamoDB, absent from the index). Returns how many documents MongoDB holds.
 */
export async function expectStoresEqualMongo(stores: Stores, db: string, collection: string): Promise<number> {
  const truth = await stores.mongo.db(db).collection(collection).find({}, asRelayed).toArray();
  const keyOf = (document: Document) => `${db}.${collection}|${BSON.EJSON.stringify({ _id: document._id }, exact)}`;

  const items: Array<Record<string, AttributeValue>> = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await stores.dynamo.send(new ScanCommand({ TableName: stores.reportingTable, ConsistentRead: true, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const live = new Map(
    items
      .filter((item) => item._ns?.S === `${db}.${collection}` && item._op?.S !== 'delete')
      .map((item) => [item._key?.S ?? '', Object.fromEntries(Object.entries(item).filter(([name]) => !(RESERVED_ATTRIBUTES as readonly string[]).includes(name)))]),
  );
  expect([...live.keys()].sort(), `DynamoDB keys of ${db}.${collection}`).toEqual(truth.map(keyOf).sort());
  for (const document of truth) expect(numbersByValue(live.get(keyOf(document)))).toEqual(numbersByValue(toAttributeMap(document)));

  const index = indexName(stores.indexTemplate, { db, coll: collection });
  await fetch(`${stores.opensearchUrl}/${index}/_refresh`, { method: 'POST' });
  const search = (await (await fetch(`${stores.opensearchUrl}/${index}/_search?size=10000`)).json()) as {
    hits: { hits: Array<{ _id: string; _source: Record<string, unknown> }> };
  };
  const indexed = new Map(search.hits.hits.map((hit) => [hit._id, hit._source]));
  const idOf = (document: Document) => searchDocumentId(BSON.EJSON.stringify({ _id: document._id }, exact));
  expect([...indexed.keys()].sort(), `OpenSearch ids of ${db}.${collection}`).toEqual(truth.map(idOf).sort());
  for (const document of truth) expect(indexed.get(idOf(document))).toEqual(JSON.parse(JSON.stringify(toSearchDocument(document))));
  return truth.length;
}
