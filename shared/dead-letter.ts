import type { Producer } from 'kafkajs';
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
} as const;

export interface DeadLetterSink {
  /** Resolves once Kafka acknowledged every dead letter; a sink must not report success before that. */
  send(rejected: readonly RejectedRecord[]): Promise<void>;
}

/**
 * Dead letters keep the original key, value and headers byte for byte, and add where the record came from and why it
 * was refused, so it can be inspected and re-driven as it was.
 */
export class KafkaDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly sinkName: string,
  ) {}

  async send(rejected: readonly RejectedRecord[]): Promise<void> {
    if (rejected.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: rejected.map(({ record, code, reason }) => ({
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          [DEAD_LETTER_HEADERS.reason]: reason,
          [DEAD_LETTER_HEADERS.code]: code,
          [DEAD_LETTER_HEADERS.sink]: this.sinkName,
          [DEAD_LETTER_HEADERS.sourceTopic]: record.topic,
          [DEAD_LETTER_HEADERS.sourcePartition]: String(record.partition),
          [DEAD_LETTER_HEADERS.sourceOffset]: String(record.offset),
        },
      })),
    });
  }
}

