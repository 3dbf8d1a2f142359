import type { Producer } from 'kafkajs';
import { KafkaDeadLetterSink } from '../../shared/dead-letter';
import { lambdaKafkaEventOf, type SourceRecord } from '../../shared/lambda-kafka-event';
import { RecordingMetrics } from '../../shared/metrics';
import { runSink, type ReportingStore, type SinkSummary } from '../../shared/sink-runner';
import { localKafka, readAllRecords, type ReadRecord } from './local-clients';
import { RecordingLogger } from './recording-logger';
import { prefixNaming } from '../../shared/topic-naming';
import { uniqueName } from './unique-name';
import { createServedTopics } from './test-topics';

/** Runs batches through the sinks' domain function with real stores and a real dead-letter topic. */
export class SinkHarness {
  readonly kafka = localKafka('sink-test');
  readonly deadLetterTopic = uniqueName('sink-dlq');
  readonly logger = new RecordingLogger();
  readonly metrics = new RecordingMetrics();
  private producer: Producer | undefined;

  async setUp(): Promise<this> {
    await createServedTopics(this.kafka, [this.deadLetterTopic]);
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    return this;
  }

  /** One invocation with a Lambda-like countdown (`budgetMs`), as the event source would make it. */
  async run(sink: string, store: ReportingStore, records: readonly SourceRecord[], budgetMs = 60_000): Promise<SinkSummary> {
    if (!this.producer) throw new Error('call setUp first');
    const deadLetters = new KafkaDeadLetterSink(this.producer, this.deadLetterTopic, sink);
    const deadline = Date.now() + budgetMs;
    return runSink(
      sink,
      lambdaKafkaEventOf(records),
      { store, deadLetters, logger: this.logger, metrics: this.metrics, topicNamings: [prefixNaming()] },
      () => deadline - Date.now(),
    );
  }

  deadLetters(): Promise<ReadRecord[]> {
    return readAllRecords(this.kafka, [this.deadLetterTopic]);
  }

  async tearDown(): Promise<void> {
    await this.producer?.disconnect();
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [this.deadLetterTopic] }).catch(() => undefined);
    await admin.disconnect();
  }
}
