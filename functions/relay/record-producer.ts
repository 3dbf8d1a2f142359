import { chunkBySize, kafkaRecordSize } from '../../shared/kafka-record-size';
import type { Producer } from 'kafkajs';

export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Buffer;
  /** null for a tombstone. */
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The key, value and headers above already in their record-batch form (shared/kafka-record-body.ts), where the
   * thread that made the record wrote them: the patched KafkaJS copies these bytes instead of encoding the three again.
   */
  readonly encodedBody?: Buffer;
}

/** Sends records in order and resolves only when Kafka acknowledged every one of them (acks=all). */
export interface RecordProducer {
  send(records: readonly OutgoingRecord[]): Promise<void>;
}

/** Bytes Kafka counts against message.max.bytes for one record, with room for the record and batch framing. */
export function recordSize(record: OutgoingRecord): number {
  return kafkaRecordSize(record);
}

export { chunkBySize };

/**
 * Sends through a producer it asks for at the first send, so an invocation that never produces (lease held, stalled
 * stream) never connects to Kafka.
 */
export class KafkaRecordProducer implements RecordProducer {
  constructor(
    private readonly producer: () => Promise<Producer>,
    private readonly maxRequestBytes: number,
  ) {}

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const producer = await this.producer();
    for (const chunk of chunkBySize(records, this.maxRequestBytes)) {
      // The records are KafkaJS's messages as they are (it reads key, value, headers and the patch's encodedBody, and
      // changes none of them): no copy of each record, and records share their (frozen) header objects.
      const topic = chunk[0]?.topic;
      const topicMessages = chunk.every((record) => record.topic === topic) ? [{ topic: topic as string, messages: chunk }] : byTopic(chunk);
      await producer.sendBatch({ acks: -1, topicMessages });
    }
  }
}

/** Records grouped by topic, each group in record order. */
function byTopic(records: readonly OutgoingRecord[]): { topic: string; messages: OutgoingRecord[] }[] {
  const groups = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const messages = groups.get(record.topic);
    if (messages) messages.push(record);
    else groups.set(record.topic, [record]);
  }
  return [...groups].map(([topic, messages]) => ({ topic, messages }));
}
