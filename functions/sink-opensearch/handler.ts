import type { Context } from 'aws-lambda';
import { KafkaDeadLetterSink } from '../../shared/dead-letter';
import { LazyProducer } from '../../shared/lazy-producer';
import { createProducer, lazyKafka, parseKafkaEnv } from '../../shared/kafka-client';
import type { LambdaKafkaEvent } from '../../shared/lambda-kafka-event';
import { sinkTopicNamings } from '../../shared/topic-naming';
import { createLogger } from '../../shared/logger';
import { createMetrics } from '../../shared/metrics';
import { lazyDeadLetters, runSink, type SinkSummary } from '../../shared/sink-runner';
import { OpenSearchStore } from './opensearch-store';
import { createSearchClient } from './search-client';
import { parseOpenSearchSinkEnv } from './sink-opensearch-config';
import { resolveSecretCredentials, type UsernamePassword } from '../../shared/secret-env';

const SINK = 'opensearch';
// Parsed once per container: a misconfigured function fails at cold start, naming the variable.
const env = parseOpenSearchSinkEnv();
const kafkaSettings = parseKafkaEnv();
const topicNamings = sinkTopicNamings(env);
const logger = createLogger('mongo-cdc-sink-opensearch');
function basicAuthFrom(settings: typeof env): { basicAuth?: () => Promise<UsernamePassword> } {
  const { OPENSEARCH_USERNAME: username, OPENSEARCH_PASSWORD: password = '', OPENSEARCH_BASIC_AUTH_SECRET: secret } = settings;
  if (username) return { basicAuth: async () => ({ username, password }) };
  return secret ? { basicAuth: () => resolveSecretCredentials('OPENSEARCH_BASIC_AUTH') } : {};
}

const store = new OpenSearchStore(
  createSearchClient({
    url: env.OPENSEARCH_URL,
    region: env.AWS_REGION,
    ...(env.OPENSEARCH_SIGV4_SERVICE ? { sigv4Service: env.OPENSEARCH_SIGV4_SERVICE } : {}),
    ...basicAuthFrom(env),
  }),
  {
    indexTemplate: env.SINK_INDEX_TEMPLATE,
    ...(env.SINK_INDEX_BODY ? { indexBody: env.SINK_INDEX_BODY } : {}),
    baseBackoffMs: env.SINK_RETRY_BASE_MS,
    bulkDocuments: env.SINK_OPENSEARCH_BULK_DOCUMENTS,
    bulkBytes: env.SINK_OPENSEARCH_BULK_BYTES,
    bulkConcurrency: env.SINK_OPENSEARCH_BULK_CONCURRENCY,
  },
);
const kafka = lazyKafka(kafkaSettings, logger);
// Connected only when a batch has something to dead-letter.
const deadLetters = lazyDeadLetters(
  new LazyProducer(async () => createProducer(await kafka())),
  (producer) => new KafkaDeadLetterSink(producer, env.SINK_DEAD_LETTER_TOPIC, SINK, env.KAFKA_MAX_MESSAGE_BYTES),
);
// One per container, as Powertools intends: runSink flushes it on every way out of an invocation (success, store
// failure, dead-letter failure), so nothing carries over; building one per invocation cost ~0.2 ms of CPU each time.
const metrics = createMetrics('mongo-cdc-sink-opensearch', { Sink: SINK });

export async function handler(event: LambdaKafkaEvent, context: Context): Promise<SinkSummary> {
  const summary = await runSink(SINK, event, { store, deadLetters, logger, metrics, topicNamings }, () => context.getRemainingTimeInMillis());
  for (const warning of store.mappingWarnings.splice(0)) logger.warn({ event: 'sink.index-mapping-kept', sink: SINK, warning });
  return summary;
}
