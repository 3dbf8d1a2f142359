import { z } from 'zod';
import { relayEnvShape, type StreamConfig } from '../../functions/relay/relay-config';
import { parseEnv } from '../../shared/env-config';
import { topicsOfStream } from '../../shared/topic-naming';
import { endpoints } from '../stack/endpoints';

/**
 * The variables a local run sets when the caller did not, all named as in AWS so a run can be pointed at other
 * services by exporting the same names. The demo streams watch shop.customers and shop.orders one collection each,
 * which every MongoDB (and the stand-in) can serve.
 */
export function localDefaults(): Record<string, string> {
  return {
    CDC_STREAMS: JSON.stringify([
      { id: 'shop-customers', database: 'shop', collection: 'customers' },
      { id: 'shop-orders', database: 'shop', collection: 'orders' },
    ]),
    CONTROL_TABLE: 'mongo-cdc-local-control',
    REPORTING_TABLE: 'mongo-cdc-local-reporting',
    MONGODB_URI: endpoints.mongodbUri(),
    KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
    KAFKA_AUTH: 'none',
    DYNAMODB_ENDPOINT: endpoints.dynamodb(),
    OPENSEARCH_URL: endpoints.opensearch(),
    AWS_REGION: 'us-east-1',
    // DynamoDB Local accepts any keys; real ones in the environment are never overridden.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // The deployed relay's safety margin (infra/serverless/config.js), and EMF metrics off (the status view counts).
    RELAY_SAFETY_MARGIN_MS: '12000',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/** How the local runtime reproduces the triggers; defaults are serverless.yml's (schedule, timeout, event source). */
const runtimeShape = {
  CDC_STREAMS: relayEnvShape.CDC_STREAMS,
  RELAY_SCHEDULE_SECONDS: z.coerce.number().int().positive().default(60),
  RELAY_TIMEOUT_SECONDS: z.coerce.number().int().positive().max(900).default(70),
  SINK_BATCH_SIZE: z.coerce.number().int().positive().max(10_000).default(500),
  SINK_BATCHING_WINDOW_SECONDS: z.coerce.number().nonnegative().max(300).default(1),
  /** Comma-separated topics both sinks consume; by default every topic the configured streams write. */
  SINK_TOPICS: z.string().optional(),
  /** Which sinks run: dynamodb, opensearch or both. */
  LOCAL_SINKS: z.string().default('dynamodb,opensearch'),
};

export type RuntimeSettings = ReturnType<typeof parseRuntimeEnv>;

export function parseRuntimeEnv(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(runtimeShape, env);
  const sinks = parsed.LOCAL_SINKS.split(',').map((sink) => sink.trim());
  const unknownSink = sinks.find((sink) => sink !== 'dynamodb' && sink !== 'opensearch');
  if (unknownSink !== undefined) parseEnv({ LOCAL_SINKS: z.literal(['dynamodb', 'opensearch']) }, { LOCAL_SINKS: unknownSink });
  return { ...parsed, sinks: sinks as Array<'dynamodb' | 'opensearch'>, sinkTopics: sinkTopics(parsed.CDC_STREAMS, parsed.SINK_TOPICS) };
}

/**
 * The topics the sinks consume. A collection stream's topic is known; a database or deployment stream writes topics
 * named after collections that may not exist yet, so they are matched by prefix instead.
 */
function sinkTopics(streams: readonly StreamConfig[], listed: string | undefined): Array<string | RegExp> {
  if (listed) return listed.split(',').map((topic) => topic.trim()).filter(Boolean);
  return streams.flatMap((stream) => topicsOfStream(stream, stream));
}
