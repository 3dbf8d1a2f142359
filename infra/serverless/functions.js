// The Lambda functions: one relay per stream (each with its own schedule, role and reserved concurrency of 1, so one
// stream's failure or backlog never holds up another), and the sinks that are enabled. Their Kafka event source
// mappings are CloudFormation resources (resources.js): serverless v3's msk/kafka events cannot set an on-failure
// destination, provisioned pollers or retry limits.
'use strict';

const { loadConfig } = require('./config');

/** The variables every function needs to reach Kafka. */
function kafkaEnvironment(config) {
  const { kafka } = config;
  const environment = { KAFKA_BROKERS: kafka.brokers, KAFKA_AUTH: kafka.auth };
  if (kafka.auth.startsWith('scram')) {
    // The secret's name only: the function reads the credentials from Secrets Manager at its first connection, so
    // they appear neither in the template nor in the function's configuration.
    environment.KAFKA_SASL_SECRET = kafka.secretArn;
  }
  if (kafka.maxMessageBytes) environment.KAFKA_MAX_MESSAGE_BYTES = kafka.maxMessageBytes;
  return environment;
}

function common(config, fn) {
  return {
    name: fn.functionName,
    role: `${fn.logicalName}Role`,
    ...(config.vpc ? { vpc: { subnetIds: config.vpc.subnetIds, securityGroupIds: config.vpc.securityGroupIds } } : {}),
  };
}

function relayFunction(config, relay, rawStream) {
  return {
    ...common(config, relay),
    handler: 'functions/relay/handler.handler',
    description: `Relays MongoDB change stream ${relay.id} to Kafka, resuming from the control table`,
    memorySize: config.relay.memorySize,
    timeout: config.relay.timeout,
    // A second guard behind the lease: never two relays of one stream at once.
    reservedConcurrency: 1,
    environment: {
      ...kafkaEnvironment(config),
      POWERTOOLS_METRICS_NAMESPACE: config.metricsNamespace,
      POWERTOOLS_LOG_LEVEL: config.logLevel,
      // A 4 MiB young generation keeps the relay's peak RSS near 220 MiB instead of about 280 (npm run bench -- relay)
      // for about 3% of throughput, leaving headroom for large documents at 512 MB.
      NODE_OPTIONS: '--max-semi-space-size=4',
      // Only this function's stream: the relay checks every listed stream's connection variable at cold start, and a
      // function should neither hold nor be allowed to read another stream's secret.
      CDC_STREAMS: JSON.stringify([rawStream]),
      CDC_STREAM_ID: relay.id,
      CONTROL_TABLE: { Ref: 'ControlTable' },
      [`${relay.uriVariable}_SECRET`]: config.secrets.find((entry) => entry.variable === relay.uriVariable).secret,
      RELAY_SAFETY_MARGIN_MS: String(config.relay.safetyMarginMs),
      ...(config.relay.readThread === undefined ? {} : { RELAY_READ_THREAD: config.relay.readThread }),
      // Amazon MSK does not auto-create topics: a relay may create its topics only where the role may (allowTopicCreation);
      // otherwise a missing topic fails fast with TOPIC_MISSING (create them first: npx mongo-cdc topics create).
      KAFKA_TOPIC_CREATION: config.kafka.allowTopicCreation ? 'create' : 'require',
      ...(config.relay.snapshotReadThread === undefined ? {} : { SNAPSHOT_READ_THREAD: config.relay.snapshotReadThread }),
    },
    events: [
      {
        schedule: {
          rate: config.relay.schedule,
          // Nothing can connect before Kafka's brokers are known (MSK Serverless on its first deploy).
          enabled: config.kafka.ready,
          input: { streamId: relay.id },
        },
      },
    ],
  };
}

/** The relay's threads' bundle (esbuild-plugins.js) lands beside every function's bundle; only the relay needs it. */
const withoutRelayFiles = { patterns: ['!functions/relay/relay-worker.js'] };

function sinkFunctions(config) {
  const functions = {};
  const { sinks } = config;
  const sinkEnvironment = {
    ...kafkaEnvironment(config),
    POWERTOOLS_METRICS_NAMESPACE: config.metricsNamespace,
    POWERTOOLS_LOG_LEVEL: config.logLevel,
    SINK_TOPIC_PREFIX: sinks.topicPrefix,
    SINK_DEAD_LETTER_TOPIC: sinks.deadLetterTopic,
  };
  if (sinks.enabled.dynamodb) {
    const fn = sinks.functions.dynamodb;
    functions[fn.key] = {
      ...common(config, fn),
      handler: 'functions/sink-dynamodb/handler.handler',
      package: withoutRelayFiles,
      description: 'Applies mongo-cdc change records to the DynamoDB reporting table, newest version wins',
      memorySize: sinks.memorySize,
      timeout: sinks.timeout,
      environment: {
        ...sinkEnvironment,
        REPORTING_TABLE: { Ref: 'ReportingTable' },
        SINK_TOMBSTONE_TTL_SECONDS: sinks.tombstoneTtlSeconds,
        ...(sinks.dynamodbConcurrency === undefined ? {} : { SINK_DYNAMODB_CONCURRENCY: String(sinks.dynamodbConcurrency) }),
        ...(sinks.dynamodbMaxAttempts === undefined ? {} : { SINK_DYNAMODB_MAX_ATTEMPTS: String(sinks.dynamodbMaxAttempts) }),
      },
    };
  }
  if (sinks.enabled.opensearch) {
    const fn = sinks.functions.opensearch;
    const { opensearch } = config;
    const environment = {
      ...sinkEnvironment,
      OPENSEARCH_URL: opensearch.create ? { 'Fn::Sub': 'https://${OpenSearchDomain.DomainEndpoint}' } : opensearch.url,
    };
    if (opensearch.sigv4 !== 'none') environment.OPENSEARCH_SIGV4_SERVICE = opensearch.sigv4;
    if (opensearch.basicAuthSecretArn) {
      environment.OPENSEARCH_BASIC_AUTH_SECRET = opensearch.basicAuthSecretArn;
    }
    if (opensearch.indexTemplate) environment.SINK_INDEX_TEMPLATE = opensearch.indexTemplate;
    if (opensearch.indexBody) environment.SINK_INDEX_BODY = opensearch.indexBody;
    if (opensearch.bulkDocuments !== undefined) environment.SINK_OPENSEARCH_BULK_DOCUMENTS = String(opensearch.bulkDocuments);
    if (opensearch.bulkBytes !== undefined) environment.SINK_OPENSEARCH_BULK_BYTES = String(opensearch.bulkBytes);
    if (opensearch.bulkConcurrency !== undefined) environment.SINK_OPENSEARCH_BULK_CONCURRENCY = String(opensearch.bulkConcurrency);
    if (opensearch.retryBaseMs !== undefined) environment.SINK_RETRY_BASE_MS = String(opensearch.retryBaseMs);
    functions[fn.key] = {
      ...common(config, fn),
      handler: 'functions/sink-opensearch/handler.handler',
      package: withoutRelayFiles,
      description: 'Applies mongo-cdc change records to OpenSearch/Elasticsearch with external versions',
      memorySize: sinks.memorySize,
      timeout: sinks.timeout,
      environment,
    };
  }
  return functions;
}

module.exports = async ({ resolveVariable }) => {
  const config = await loadConfig(resolveVariable);
  const rawStreams = JSON.parse(config.streamsJson);
  const functions = {};
  for (const relay of config.relays) {
    functions[relay.key] = relayFunction(config, relay, rawStreams.find((stream) => stream.id === relay.id));
  }
  return { ...functions, ...sinkFunctions(config) };
};
