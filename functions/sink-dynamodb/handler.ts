import type { Context } from 'aws-lambda';
import { KafkaDeadLetterSink } from '../../shared/dead-letter';
import { LazyProducer } from '../../shared/lazy-producer';
import { createProducer, lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import type { LambdaKafkaEvent } from '../../shared/lambda-kafka-event';
import { sinkTopicNamings } from '../../shared/topic-naming';
import { createLogger } from '../../shared/logger';
import { createMetrics } from '../../shared/metrics';
import { lazyDeadLetters, runSink, type SinkSummary } from '../../shared/sink-runner';
import { DynamoReportingStore } from './dynamo-reporting-store';
import { createReportingClient } from './reporting-client';
import { parseDynamoSinkEnv } from './sink-dynamodb-config';

const SINK = 'dynamodb';
// Parsed once per container: a misconfigured function fails at cold start, naming the variable.
const env = parseDynamoSinkEnv();
const kafkaSettings = parseKafkaEnv();
const topicNamings = sinkTopicNamings(env);
const logger = createLogger('mongo-cdc-sink-dynamodb');
const store = new DynamoReportingStore(createReportingClient({ maxAttempts: env.SINK_DYNAMODB_MAX_ATTEMPTS }), {
  table: env.REPORTING_TABLE,
  concurrency: env.SINK_DYNAMODB_CONCURRENCY,
  ...(env.SINK_TOMBSTONE_TTL_SECONDS ? { tombstoneTtlSeconds: env.SINK_TOMBSTONE_TTL_SECONDS } : {}),
});
const kafka = lazyKafka(kafkaSettings, logger);
// Connected only when a batch has something to dead-letter.
const deadLetters = lazyDeadLetters(
  new LazyProducer(async () => createProducer(await kafka())),
  (producer) => new KafkaDeadLetterSink(producer, env.SINK_DEAD_LETTER_TOPIC, SINK, env.KAFKA_MAX_MESSAGE_BYTES),
);
// One per container, as Powertools intends: runSink flushes it on every way out of an invocation (success, store
// failure, dead-letter failure), so nothing carries over; building one per invocation cost ~0.2 ms of CPU each time.
const metrics = createMetrics('mongo-cdc-sink-dynamodb', { Sink: SINK });

export async function handler(event: LambdaKafkaEvent, context: Context): Promise<SinkSummary> {
  return await runSink(SINK, event, { store, deadLetters, logger, metrics, topicNamings }, () => context.getRemainingTimeInMillis());
}
