import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

export interface TopicRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Offsets [from, to) of one partition: what a read will cover. */
export interface PartitionRange {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
}

/** Each partition's retained range, or undefined when the topic does not exist (nothing was ever written to it). */
export async function retainedRanges(admin: Admin, topic: string): Promise<PartitionRange[] | undefined> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return undefined;
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .map((partition) => ({ partition: partition.partition, from: Number(partition.low), to: Number(partition.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/** A consumed message's headers as text, the form the record format and dead letters use. */
export function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return headers;
}

function toTopicRecord(topic: string, partition: number, message: KafkaMessage): TopicRecord {
  return { topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value, headers: headersOf(message) };
}

/**
 * Reads exactly the given offset ranges of a topic with a consumer of group `groupId`, seeking each partition to its
 * range start, and returns the records in partition, then offset, order. The group commits nothing; the caller
 * decides what is consumed. KafkaJS can only read through a group, so throwaway readers pass a unique id and delete
 * the group afterwards.
 */
export async function readRanges(
  kafka: Kafka,
  groupId: string,
  topic: string,
  ranges: readonly PartitionRange[],
  timeoutMs = 60_000,
): Promise<TopicRecord[]> {
  const wanted = ranges.filter((range) => range.to > range.from);
  const expected = wanted.reduce((sum, range) => sum + (range.to - range.from), 0);
  if (expected === 0) return [];
  const byPartition = new Map(wanted.map((range) => [range.partition, range]));
  const records: TopicRecord[] = [];
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${records.length} of ${expected} records of ${topic} before timing out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = byPartition.get(partition);
            const offset = Number(message.offset);
            if (!range || offset < range.from || offset >= range.to) return;
            records.push(toTopicRecord(topic, partition, message));
            if (records.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      for (const range of wanted) consumer.seek({ topic, partition: range.partition, offset: String(range.from) });
    });
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}
