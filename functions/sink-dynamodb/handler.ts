import type { Context } from 'aws-lambda';
import { KafkaDeadLetterSink } from '../../shared/dead-letter';
import { LazyProducer } from '../../shared/lazy-producer';
import { lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import type { LambdaKafkaEvent } from '../../shared/lambda-kafka-event';
import { createLogger } from '../../shared/logger';
import { createMetrics } from '../../shared/metrics';
import { runSink, type SinkSummary } from '../../shared/sink-runner';
import { DynamoReportingStore } from './dynamo-reporting-store';
import { createReportingClient } from './reporting-client';
import { parseDynamoSinkEnv } from './sink-dynamodb-config';

const SINK = 'dynamodb';
// Parsed once per container: a misconfigured function fails at cold start, naming the variable.
const env = parseDynamoSinkEnv();
const kafkaSettings = parseKafkaEnv();
const logger = createLogger('mongo-cdc-sink-dynamodb');
const store = new DynamoReportingStore(createReportingClient({ maxAttempts: env.SINK_DYNAMODB_MAX_ATTEMPTS }), {
  table: env.REPORTING_TABLE,
  concurrency: env.SINK_DYNAMODB_CONCURRENCY,
  ...(env.SINK_TOMBSTONE_TTL_SECONDS ? { tombstoneTtlSeconds: env.SINK_TOMBSTONE_TTL_SECONDS } : {}),
});
const kafka = lazyKafka(kafkaSettings, logger);
// Idempotent, bounded retries: a lost broker fails the invocation rather than hanging until its deadline.
const deadLetterProducer = new LazyProducer(
  async () => (await kafka()).producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 5, maxRetryTime: 5_000 } }),
);

export async function handler(event: LambdaKafkaEvent, context: Context): Promise<SinkSummary> {
  const metrics = createMetrics('mongo-cdc-sink-dynamodb', { Sink: SINK });
  const deadLetters = new KafkaDeadLetterSink(await deadLetterProducer.get(), env.SINK_DEAD_LETTER_TOPIC, SINK);
  try {
    return await runSink(SINK, event, { store, deadLetters, logger, metrics, topicPrefix: env.SINK_TOPIC_PREFIX }, () =>
      context.getRemainingTimeInMillis(),
    );
  } catch (error) {
    await deadLetterProducer.drop();
    throw error;
  }
}
