import { createHash } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { chunkBySize, DEFAULT_MAX_MESSAGE_BYTES, kafkaRecordSize } from './kafka-record-size';
import type { RejectedRecord } from './sink-batch';

/** Headers a dead letter carries beside the original ones; the ops CLI reads them to list and re-drive. */
export const DEAD_LETTER_HEADERS = {
  reason: 'cdc-dlq-reason',
  code: 'cdc-dlq-code',
  /** Set by sinks: which sink refused the record. */
  sink: 'cdc-dlq-sink',
  sourceTopic: 'cdc-dlq-source-topic',
  sourcePartition: 'cdc-dlq-source-partition',
  sourceOffset: 'cdc-dlq-source-offset',
  /** Set by the relay: the stream whose event was too large; the record holds metadata, not the event. */
  stream: 'cdc-dlq-source',
  /**
   * Set by sinks when the refused record was too large to be copied into the dead-letter topic: the value is then a
   * JSON reference to the original record (which stays in its source topic), not the record itself.
   */
  reference: 'cdc-dlq-reference',
} as const;

/** Reasons longer than this are cut (with a note) so a store's verbose error never makes the dead letter too large. */
const MAX_REASON_BYTES = 8_192;
/** Room kept below the broker's limit for the request framing KafkaJS adds around a record batch. */
const REQUEST_MARGIN_BYTES = 16_384;

export interface DeadLetterSink {
  /** Resolves once Kafka acknowledged every dead letter; a sink must not report success before that. */
  send(rejected: readonly RejectedRecord[]): Promise<void>;
}

export interface DeadLetterMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

function cut(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const kept = Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
  return `${kept}… [cut from ${Buffer.byteLength(text)} bytes]`;
}

/**
 * The dead letter for one refused record. It keeps the original key, value and headers byte for byte and adds where
 * the record came from and why it was refused, so it can be inspected and re-driven as it was. When that copy would
 * exceed `maxRecordBytes`, the value becomes a reference to the original record (topic, partition, offset, size,
 * reason), and a key too large for it becomes its SHA-256: the dead letter always fits, so a batch never stalls on it.
 */
export function deadLetterMessage(rejected: RejectedRecord, sinkName: string, maxRecordBytes: number): DeadLetterMessage {
  const { record, code } = rejected;
  const reason = cut(rejected.reason, MAX_REASON_BYTES);
  const ours = {
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.code]: code,
    [DEAD_LETTER_HEADERS.sink]: sinkName,
    [DEAD_LETTER_HEADERS.sourceTopic]: record.topic,
    [DEAD_LETTER_HEADERS.sourcePartition]: String(record.partition),
    [DEAD_LETTER_HEADERS.sourceOffset]: String(record.offset),
  };
  const whole: DeadLetterMessage = { key: record.key, value: record.value, headers: { ...record.headers, ...ours } };
  const size = kafkaRecordSize(whole);
  if (size <= maxRecordBytes) return whole;

  const keyFits = (record.key?.length ?? 0) <= maxRecordBytes / 4;
  const reference = {
    reference: 'the refused record was too large to copy into the dead-letter topic; read it from its source topic',
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    size,
    valueBytes: record.value?.length ?? 0,
    code,
    reason,
    ...(keyFits || !record.key ? {} : { keySha256: createHash('sha256').update(record.key).digest('hex'), keyBytes: record.key.length }),
  };
  // Original headers are kept only when they are small; ours always are.
  const originalHeaders = kafkaRecordSize({ key: null, value: null, headers: record.headers }) <= maxRecordBytes / 4 ? record.headers : {};
  return {
    key: keyFits ? record.key : Buffer.from(`sha256:${reference.keySha256 ?? ''}`),
    value: Buffer.from(JSON.stringify(reference)),
    headers: { ...originalHeaders, ...ours, [DEAD_LETTER_HEADERS.reference]: 'true' },
  };
}

/**
 * Sends dead letters in requests that each fit the broker's limit (`maxMessageBytes`, KAFKA_MAX_MESSAGE_BYTES), one
 * after another, so two large refusals in one batch never make one request the broker refuses.
 */
export class KafkaDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly sinkName: string,
    private readonly maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  async send(rejected: readonly RejectedRecord[]): Promise<void> {
    if (rejected.length === 0) return;
    const limit = Math.max(4_096, this.maxMessageBytes - REQUEST_MARGIN_BYTES);
    const messages = rejected.map((refused) => deadLetterMessage(refused, this.sinkName, limit));
    for (const chunk of chunkBySize(messages, limit)) {
      await this.producer.send({ topic: this.topic, acks: -1, messages: chunk });
    }
  }
}
