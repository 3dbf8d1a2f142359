import type { Producer } from 'kafkajs';
import type { RejectedRecord } from './sink-batch';

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
          'cdc-dlq-reason': reason,
          'cdc-dlq-code': code,
          'cdc-dlq-sink': this.sinkName,
          'cdc-dlq-source-topic': record.topic,
          'cdc-dlq-source-partition': String(record.partition),
          'cdc-dlq-source-offset': String(record.offset),
        },
      })),
    });
  }
}

