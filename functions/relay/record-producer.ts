import type { Producer } from 'kafkajs';

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
  let size = 70 + record.key.length + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers)) size += name.length + Buffer.byteLength(value) + 8;
  return size;
}

/**
 * KafkaJS puts every record of one partition in a send into one record batch, which the broker rejects whole when it
 * exceeds message.max.bytes. So a relay batch goes out as consecutive requests each below that limit; awaiting each
 * before the next keeps per-partition order.
 */
export function chunkBySize(records: readonly OutgoingRecord[], maxRequestBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let currentBytes = 0;
  for (const record of records) {
    const size = recordSize(record);
    if (current.length > 0 && currentBytes + size > maxRequestBytes) {
      chunks.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(record);
    currentBytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

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
      const byTopic = new Map<string, Array<{ key: Buffer; value: Buffer | null; headers: Record<string, string> }>>();
      for (const record of chunk) {
        const messages = byTopic.get(record.topic) ?? [];
        messages.push({ key: record.key, value: record.value, headers: { ...record.headers } });
        byTopic.set(record.topic, messages);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    }
  }
}
