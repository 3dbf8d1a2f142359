import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { MongoClient } from 'mongodb';
import { expect } from 'vitest';
import { AS_RELAYED, compareCollection } from './store-comparison';

// The comparison itself lives in store-comparison.ts without vitest, so `npm run chaos` can load it outside a test run.

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
export async function expectStoresEqualMongo(stores: Stores, db: string, coll: string): Promise<number> {
  const truth = await stores.mongo.db(db).collection(coll).find({}, AS_RELAYED).toArray();
  const comparison = await compareCollection({
    db,
    coll,
    truth,
    dynamo: { client: stores.dynamo, table: stores.reportingTable },
    opensearch: { url: stores.opensearchUrl, indexTemplate: stores.indexTemplate },
  });
  expect(comparison.dynamodb, `DynamoDB against MongoDB, ${db}.${coll}`).toEqual({ missing: [], extra: [], differing: [] });
  expect(comparison.opensearch, `OpenSearch against MongoDB, ${db}.${coll}`).toEqual({ missing: [], extra: [], differing: [] });
  return truth.length;
}
