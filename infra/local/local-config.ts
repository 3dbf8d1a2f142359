import { z } from 'zod';
import { relayEnvShape, type StreamConfig } from '../../functions/relay/relay-config';
import { parseEnv } from '../../shared/env-config';
import { topicsOfStream } from '../../shared/topic-naming';

/** How the local runtime reproduces the triggers; defaults are serverless.yml's (schedule, timeout, event source). */
const runtimeShape = {
  CDC_STREAMS: relayEnvShape.CDC_STREAMS,
  RELAY_SCHEDULE_SECONDS: z.coerce.number().int().positive().default(60),
  RELAY_TIMEOUT_SECONDS: z.coerce.number().int().positive().max(900).default(70),
  SINK_BATCH_SIZE: z.coerce.number().int().positive().max(10_000).default(500),
  SINK_BATCHING_WINDOW_SECONDS: z.coerce.number().nonnegative().max(300).default(1),
  /** Comma-separated topics both sinks consume; by default every topic the configured streams write. */
  SINK_TOPICS: z.string().optional(),
  /** Failed invocations of one batch are retried this many times, then the batch goes to SINK_ON_FAILURE_TOPIC. */
  SINK_MAX_RETRY_ATTEMPTS: z.coerce.number().int().min(0).max(10_000).default(10),
  /** The local stand-in for the event source mapping's on-failure destination: one record per batch given up on. */
  SINK_ON_FAILURE_TOPIC: z.string().min(1).default('mongo-cdc.sink-on-failure'),
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
