import { z } from 'zod';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../shared/kafka-record-size';
import { sinkTopicNamingEnvShape } from '../../shared/topic-naming-schema';
import { parseEnv } from '../../shared/env-config';

export const dynamoSinkEnvShape = {
  REPORTING_TABLE: z.string().min(1),
  /** How topics map back to collections, from the relay's own CDC_STREAMS (shared/topic-naming.ts). */
  ...sinkTopicNamingEnvShape,
  SINK_DEAD_LETTER_TOPIC: z.string().min(1).default('mongo-cdc.sink-dead-letter'),
  /** The broker's message.max.bytes: dead letters are sent in requests below it, and larger ones become references. */
  KAFKA_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(DEFAULT_MAX_MESSAGE_BYTES),
  SINK_DYNAMODB_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  SINK_TOMBSTONE_TTL_SECONDS: z.coerce.number().int().positive().optional(),
  /** The SDK retries throttling and 5xx with adaptive backoff this many times before the batch fails. */
  SINK_DYNAMODB_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
};

export function parseDynamoSinkEnv(env: NodeJS.ProcessEnv = process.env) {
  return parseEnv(dynamoSinkEnvShape, env);
}
