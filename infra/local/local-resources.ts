import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { StreamConfig } from '../../functions/relay/relay-config';
import { ensureIndex } from '../../functions/sink-opensearch/index-creation';
import { createSearchClient } from '../../functions/sink-opensearch/search-client';
import { deadLetterTopicOf } from '../../shared/topic-naming';
import { indexName } from '../../functions/sink-opensearch/search-document';

async function tableExists(client: DynamoDBClient, name: string): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: name }));
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

/** A table keyed as infra/resources declares it (control: streamId; reporting: _key), created when missing. */
export async function ensureTable(client: DynamoDBClient, name: string, hashKey: string, ttlAttribute?: string): Promise<boolean> {
  if (await tableExists(client, name)) return false;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: hashKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
  if (ttlAttribute) {
    await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }));
  }
  return true;
}

/** Every topic the pipeline writes, created up front so the sinks' consumer groups find them at once. */
export async function ensureTopics(kafka: Kafka, streams: readonly StreamConfig[], sinkTopics: ReadonlyArray<string | RegExp>, sinkDeadLetterTopic: string): Promise<string[]> {
  const wanted = new Set<string>([sinkDeadLetterTopic]);
  for (const stream of streams) wanted.add(deadLetterTopicOf(stream));
  for (const topic of sinkTopics) if (typeof topic === 'string') wanted.add(topic);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...wanted].filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}

/** The index of each collection stream, created (with SINK_INDEX_BODY when given) so it can be searched at once. */
export async function ensureIndices(
  opensearchUrl: string,
  template: string,
  streams: readonly StreamConfig[],
  body: string | undefined,
): Promise<string[]> {
  const client = createSearchClient({ url: opensearchUrl, region: 'local' });
  const created: string[] = [];
  for (const stream of streams) {
    if (!stream.database || !stream.collection) continue;
    const name = indexName(template, { db: stream.database, coll: stream.collection });
    const state = await ensureIndex(client, name, body ?? '{}');
    if (state === 'retry') throw new Error(`OpenSearch is not ready (429/5xx) to tell whether index ${name} exists`);
    if (state === 'created') created.push(name);
  }
  return created;
}
