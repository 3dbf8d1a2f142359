import { chunkBySize, kafkaRecordSize } from '../../shared/kafka-record-size';
import type { Message, Producer } from 'kafkajs';

export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Buffer;
  /** null for a tombstone. */
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
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
      const byTopic = new Map<string, Message[]>();
      for (const record of chunk) {
        const messages = byTopic.get(record.topic) ?? [];
        // KafkaJS only reads headers, so records share their (frozen) header objects instead of a copy per record.
        messages.push({ key: record.key, value: record.value, headers: record.headers });
        byTopic.set(record.topic, messages);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    }
  }
}
