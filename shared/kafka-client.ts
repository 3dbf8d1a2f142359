import { Kafka, type KafkaConfig, type logCreator, logLevel, type Producer, type ProducerConfig, type SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { commaList, parseEnv } from './env-config';
import { CdcError } from './errors';
import type { Logger } from './logger';
import { Murmur2Partitioner } from './murmur2-partitioner';
import { resolveSecretCredentials } from './secret-env';

export const kafkaEnvShape = {
  KAFKA_BROKERS: commaList,
  /** none: plaintext (local); tls: TLS without SASL; scram-sha-512/256: MSK SCRAM; iam: MSK IAM (OAUTHBEARER). */
  KAFKA_AUTH: z.enum(['none', 'tls', 'scram-sha-512', 'scram-sha-256', 'iam']).default('none'),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** Secrets Manager secret (ARN or name) holding {"username","password"} for SCRAM: the secret MSK itself uses. */
  KAFKA_SASL_SECRET: z.string().optional(),
  KAFKA_CLIENT_ID: z.string().default('mongo-cdc'),
  KAFKA_CONNECTION_TIMEOUT_MS: z.coerce.number().int().positive().default(3_000),
  KAFKA_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  AWS_REGION: z.string().default('us-east-1'),
};

export type KafkaSettings = ReturnType<typeof parseKafkaEnv>;

export function parseKafkaEnv(env: NodeJS.ProcessEnv = process.env) {
  const settings = parseEnv(kafkaEnvShape, env);
  const plainCredentials = Boolean(settings.KAFKA_SASL_USERNAME && settings.KAFKA_SASL_PASSWORD);
  if (settings.KAFKA_AUTH.startsWith('scram') && !plainCredentials && !settings.KAFKA_SASL_SECRET) {
    // The same shape as every other configuration error, naming both ways to provide the credentials.
    throw new CdcError(
      'CONFIG_INVALID',
      `invalid configuration:\n- environment variable KAFKA_SASL_SECRET: is required for ${settings.KAFKA_AUTH} (or KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)`,
    );
  }
  return settings;
}

function saslFor(settings: KafkaSettings): SASLOptions | undefined {
  switch (settings.KAFKA_AUTH) {
    case 'scram-sha-512':
    case 'scram-sha-256':
      return {
        mechanism: settings.KAFKA_AUTH,
        username: settings.KAFKA_SASL_USERNAME ?? '',
        password: settings.KAFKA_SASL_PASSWORD ?? '',
      };
    case 'iam':
      return {
        mechanism: 'oauthbearer',
        // The signer derives a short-lived token from the function's role; KafkaJS asks again on reconnect. Loaded only
        // for IAM auth: it pulls in every AWS credential provider, a noticeable share of a cold start that has no use
        // for them.
        oauthBearerProvider: async () => {
          const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
          return { value: (await generateAuthToken({ region: settings.AWS_REGION })).token };
        },
      };
    default:
      return undefined;
  }
}

/** Routes KafkaJS's own log lines into the structured logger, so they carry the same fields and levels. */
function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }) => {
      // KafkaJS stamps its own timestamp; the structured logger owns that key.
      const { message, timestamp: _timestamp, ...extra } = log;
      const event = { event: 'kafkajs', kafkaMessage: message, ...extra };
      if (level === logLevel.ERROR) logger.error(event);
      else if (level === logLevel.WARN) logger.warn(event);
      else logger.debug(event);
    };
}

/**
 * The Kafka client, built on first use and kept for warm invocations. SCRAM credentials named by KAFKA_SASL_SECRET are
 * read from Secrets Manager then, so they never sit in the function's configuration.
 */
export function lazyKafka(settings: KafkaSettings, logger: Logger, env: NodeJS.ProcessEnv = process.env): () => Promise<Kafka> {
  let kafka: Promise<Kafka> | undefined;
  return () => {
    kafka ??= (async () => {
      if (!settings.KAFKA_AUTH.startsWith('scram') || (settings.KAFKA_SASL_USERNAME && settings.KAFKA_SASL_PASSWORD)) {
        return createKafka(settings, logger);
      }
      const { username, password } = await resolveSecretCredentials('KAFKA_SASL', env);
      return createKafka({ ...settings, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password }, logger);
    })();
    // A failed secret read is retried by the next invocation rather than remembered.
    kafka.catch(() => {
      kafka = undefined;
    });
    return kafka;
  };
}

export function createKafka(settings: KafkaSettings, logger: Logger): Kafka {
  const sasl = saslFor(settings);
  const config: KafkaConfig = {
    clientId: settings.KAFKA_CLIENT_ID,
    brokers: settings.KAFKA_BROKERS,
    ssl: settings.KAFKA_AUTH !== 'none',
    connectionTimeout: settings.KAFKA_CONNECTION_TIMEOUT_MS,
    requestTimeout: settings.KAFKA_REQUEST_TIMEOUT_MS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    ...(sasl ? { sasl } : {}),
  };
  return new Kafka(config);
}

/**
 * The producer every mongo-cdc writer uses (relay, sinks' dead letters, ops re-drive, benches), so what is measured is
 * what is deployed. Idempotent with one request in flight: KafkaJS marks higher concurrency unsafe for idempotence.
 * Retries are bounded so a lost broker fails the invocation (and the next one resends) instead of hanging until the
 * deadline; tests that want the failure sooner pass fewer.
 */
export function producerConfig(retry: { retries: number; maxRetryTime: number } = { retries: 5, maxRetryTime: 5_000 }): ProducerConfig {
  // The murmur2 partitioner puts every key where KafkaJS's (and Java's) default partitioner would, at a fraction of
  // its CPU per record.
  return { idempotent: true, maxInFlightRequests: 1, retry, createPartitioner: Murmur2Partitioner };
}

export function createProducer(kafka: Kafka, retry?: { retries: number; maxRetryTime: number }): Producer {
  return kafka.producer(producerConfig(retry));
}
