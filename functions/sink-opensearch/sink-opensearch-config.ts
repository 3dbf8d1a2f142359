import { z } from 'zod';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/kafka-record-size';
import { jsonVariable, parseEnv } from '../../shared/env-config';
import { sinkTopicNamingEnvShape } from '../../shared/topic-naming-schema';
import { DEFAULT_BULK_BYTES, DEFAULT_BULK_CONCURRENCY, DEFAULT_BULK_DOCUMENTS } from './bulk-request';

export const openSearchSinkEnvShape = {
  OPENSEARCH_URL: z.url(),
  /** Set to "es" (Amazon OpenSearch Service) or "aoss" (Serverless) to sign requests with the function's role. */
  OPENSEARCH_SIGV4_SERVICE: z.enum(['es', 'aoss']).optional(),
  OPENSEARCH_USERNAME: z.string().optional(),
  OPENSEARCH_PASSWORD: z.string().optional(),
  /** Secrets Manager secret (ARN or name) holding {"username","password"} for basic auth, read at first use. */
  OPENSEARCH_BASIC_AUTH_SECRET: z.string().optional(),
  SINK_INDEX_TEMPLATE: z.string().min(1).default('mongo-cdc-{db}-{coll}'),
  /** Settings and mappings for indices the sink creates, e.g. {"mappings":{"properties":{...}}}. */
  SINK_INDEX_BODY: jsonVariable(z.record(z.string(), z.unknown())).optional(),
  /** How topics map back to collections, from the relay's own CDC_STREAMS (shared/topic-naming.ts). */
  ...sinkTopicNamingEnvShape,
  SINK_DEAD_LETTER_TOPIC: z.string().min(1).default('mongo-cdc.sink-dead-letter'),
  /** The broker's message.max.bytes: dead letters are sent in requests below it, and larger ones become references. */
  KAFKA_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_MESSAGE_BYTES),
  SINK_RETRY_BASE_MS: z.coerce.number().int().positive().default(200),
  /** Writes per `_bulk` request: a batch goes out as sub-bulks of this many. */
  SINK_OPENSEARCH_BULK_DOCUMENTS: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_BULK_DOCUMENTS),
  /**
   * Bytes per `_bulk` request (as the records' sizes count them): below the domain's HTTP payload limit (10 MiB on
   * Amazon OpenSearch Service's smaller instance types, 100 MiB on larger; `http.max_content_length` self-managed).
   */
  SINK_OPENSEARCH_BULK_BYTES: z.coerce.number().int().min(65_536).max(100 * 1024 * 1024).default(DEFAULT_BULK_BYTES),
  /** Sub-bulks in flight at once, so building the next request overlaps OpenSearch indexing the last (1: one at a time). */
  SINK_OPENSEARCH_BULK_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(DEFAULT_BULK_CONCURRENCY),
  AWS_REGION: z.string().default('us-east-1'),
};

export function parseOpenSearchSinkEnv(env: NodeJS.ProcessEnv = process.env) {
  return parseEnv(openSearchSinkEnvShape, env);
}
