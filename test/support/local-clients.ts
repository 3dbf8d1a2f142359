import { DynamoDBClient, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { endpoints } from '../../infra/stack/endpoints';
import { ensureTable } from '../../infra/local/local-resources';
import { headersOf } from '../../infra/ops/topic-reader';

export function localDynamo(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: endpoints.dynamodb(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** The control table exactly as infra/resources/control-table.yml declares it (key: streamId). */
export async function createControlTable(client: DynamoDBClient, name: string): Promise<void> {
  await ensureTable(client, name, 'streamId');
}

/** The reporting table as infra/serverless/resources.js declares it (key: _key). */
export async function createReportingTable(client: DynamoDBClient, name: string): Promise<void> {
  await ensureTable(client, name, '_key');
}

export async function dropTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
}

export function localKafka(clientId = 'test'): Kafka {
  return new Kafka({ clientId, brokers: endpoints.kafkaBrokers(), logLevel: logLevel.NOTHING });
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads every record currently in the given topics from the beginning, without a consumer group: fetches until each
 * partition's end offset (taken at the start) is reached. Returns records in per-partition offset order.
 */
export async function readAllRecords(kafka: Kafka, topics: string[], timeoutMs = 60_000): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  try {
    for (const topic of topics) {
      for (const partition of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${partition.partition}`, Number(partition.high));
    }
  } finally {
    await admin.disconnect();
  }
  const wanted = [...ends.values()].reduce((sum, high) => sum + high, 0);
  const records: ReadRecord[] = [];
  if (wanted === 0) return records;
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}-${Math.random().toString(16).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${records.length} of ${wanted} records before timing out`)), timeoutMs);
    void consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (Number(message.offset) >= (ends.get(`${topic}/${partition}`) ?? 0)) return;
        records.push(toRecord(topic, partition, message));
        if (records.length >= wanted) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return records;
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ReadRecord {
  return { topic, partition, offset: message.offset, key: message.key, value: message.value, headers: headersOf(message) };
}
