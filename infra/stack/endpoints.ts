import { bindHost, ports } from './stack-settings';

/**
 * Where the tests and local tools find each service: the variable a user sets to point at their own service wins,
 * otherwise the local stack's address. The same variables configure the functions in AWS.
 */
export const endpoints = {
  kafkaBrokers: (): string[] =>
    (process.env.KAFKA_BROKERS ?? `${bindHost}:${ports.kafka().port}`)
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker !== ''),
  dynamodb: (): string => process.env.DYNAMODB_ENDPOINT ?? `http://${bindHost}:${ports.dynamodb().port}`,
  mongodbUri: (): string =>
    process.env.MONGODB_URI ?? `mongodb://${bindHost}:${ports.mongodb().port}/?directConnection=true`,
  opensearch: (): string => process.env.OPENSEARCH_URL ?? `http://${bindHost}:${ports.opensearch().port}`,
};

/** Which services the user supplied themselves; the stack neither starts nor stops those. */
export const external = {
  kafka: () => process.env.KAFKA_BROKERS !== undefined && process.env.KAFKA_BROKERS !== '',
  dynamodb: () => process.env.DYNAMODB_ENDPOINT !== undefined && process.env.DYNAMODB_ENDPOINT !== '',
  mongodb: () => process.env.MONGODB_URI !== undefined && process.env.MONGODB_URI !== '',
  opensearch: () => process.env.OPENSEARCH_URL !== undefined && process.env.OPENSEARCH_URL !== '',
};
