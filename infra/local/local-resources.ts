import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { StreamConfig } from '../../functions/relay/relay-config';
import { ensureIndex } from '../../functions/sink-opensearch/index-creation';
import { createSearchClient } from '../../functions/sink-opensearch/search-client';
import { deadLetterTopicOf } from '../../shared/topic-naming';
import { indexBodyWith, indexName } from '../../functions/sink-opensearch/search-document';
import type { Logger } from '../../shared/logger';
import { parseTopicEnv, TopicProvisioner } from '../../shared/topic-provisioner';

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
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: hashKey, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    // Another start created it between the check and the create ("Cannot create preexisting table"): it exists, which
    // is all this asked for; that start also sets its time to live.
    if (error instanceof ResourceInUseException) {
      await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
      return false;
    }
    throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
  if (ttlAttribute) {
    await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }));
  }
  return true;
}

/** Every topic the pipeline writes (that is known up front), so the sinks' consumer groups find them at once. */
export function pipelineTopics(
  streams: readonly StreamConfig[],
  sinkTopics: ReadonlyArray<string | RegExp>,
  sinkDeadLetterTopic: string,
  others: readonly string[] = [],
): string[] {
  const wanted = new Set<string>([sinkDeadLetterTopic, ...others]);
  for (const stream of streams) wanted.add(deadLetterTopicOf(stream));
  for (const topic of sinkTopics) if (typeof topic === 'string') wanted.add(topic);
  return [...wanted];
}

/** Creates the missing ones, with the same settings (KAFKA_TOPIC_*) as the relay would. Returns those it created. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], logger: Logger): Promise<string[]> {
  const provisioner = new TopicProvisioner(async () => kafka, parseTopicEnv(), logger);
  try {
    return await provisioner.ensure(topics);
  } finally {
    await provisioner.close();
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
    const state = await ensureIndex(client, name, JSON.stringify(indexBodyWith(body ? (JSON.parse(body) as Record<string, unknown>) : undefined)));
    if (state === 'retry') throw new Error(`OpenSearch is not ready (429/5xx) to tell whether index ${name} exists`);
    if (state === 'created') created.push(name);
  }
  return created;
}
