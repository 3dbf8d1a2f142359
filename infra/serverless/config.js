// The deployment's settings, read once and validated together, so `serverless deploy` fails before touching AWS with
// one message listing every problem. Serverless Framework v3 calls the exported function while resolving
// ${file(...)} variables; functions.js and resources.js build the functions and the CloudFormation resources from it.
//
// Where a setting comes from, first match wins:
//   1. a parameter: --param="name=value" on the command line, or `params:` in serverless.yml (per stage);
//   2. the config file named by --param="config=path/to/settings.yml" (YAML or JSON, keys as below);
//   3. the default below.
// Parameters are strings: lists are comma-separated or JSON, maps and stream lists are JSON. In the config file they
// are plain YAML values.
'use strict';

const ARN = /^arn:aws[a-zA-Z-]*:/;

const DEFAULTS = {
  kafkaEventSource: 'msk',
  kafkaAuth: 'iam',
  allowTopicCreation: false,
  topicPrefix: 'mongo-cdc',
  relaySchedule: 'rate(1 minute)',
  relayMemorySize: 512,
  // The relay works until (timeout - safety margin) and then checkpoints and closes. 70 s and 12 s leave it about
  // 58 s of each minute, so it has finished before the next scheduled run: an overlapping run would be throttled by
  // the reserved concurrency of 1, and Lambda retries a throttled scheduled event only after a backoff.
  relayTimeout: 70,
  relaySafetyMarginMs: 12000,
  sinks: ['dynamodb', 'opensearch'],
  sinkBatchSize: 500,
  sinkBatchingWindowSeconds: 1,
  sinkStartingPosition: 'TRIM_HORIZON',
  sinkMemorySize: 512,
  sinkTimeout: 120,
  sinkOnFailure: 'sqs',
  sinkEventSourcesEnabled: true,
  tombstoneTtlSeconds: 604800,
  reportingTableBillingMode: 'PAY_PER_REQUEST',
  reportingTableReadCapacity: 5,
  reportingTableWriteCapacity: 5,
  opensearchSigv4Service: 'es',
  createMskServerless: false,
  createOpenSearchDomain: false,
  opensearchInstanceType: 't3.small.search',
  opensearchInstanceCount: 2,
  opensearchVolumeGiB: 20,
  alarmLagSeconds: 300,
  alarmCheckpointAgeSeconds: 600,
  alarmSinkLatencySeconds: 900,
  logRetentionInDays: 30,
  logLevel: 'INFO',
};

/** Retries of a failing sink batch before it goes to the on-failure queue (with sinkOnFailure "sqs"). */
const DEFAULT_SINK_RETRIES = 10;
/** Provisioned pollers (minimum, maximum) per mapping when retries are bounded; Lambda's own default maximum is 200. */
const DEFAULT_PROVISIONED_POLLERS = '1,10';

/** Every setting a user may give; anything else in the config file is a typo and fails the deploy. */
const KNOWN = [
  'config',
  'streams',
  'mongoUriSecret',
  'mongoUriSecrets',
  'kafkaEventSource',
  'mskClusterArn',
  'kafkaBrokers',
  'kafkaAuth',
  'kafkaSecretArn',
  'kafkaSecretKmsKeyArn',
  'kafkaMaxMessageBytes',
  'allowTopicCreation',
  'vpcSubnets',
  'vpcSecurityGroups',
  'topicPrefix',
  'relaySchedule',
  'relayMemorySize',
  'relayTimeout',
  'relaySafetyMarginMs',
  'sinks',
  'sinkTopics',
  'sinkDeadLetterTopic',
  'sinkBatchSize',
  'sinkBatchingWindowSeconds',
  'sinkStartingPosition',
  'sinkMemorySize',
  'sinkTimeout',
  'sinkOnFailure',
  'sinkMaxRetryAttempts',
  'sinkProvisionedPollers',
  'sinkEventSourcesEnabled',
  'tombstoneTtlSeconds',
  'reportingTableBillingMode',
  'reportingTableReadCapacity',
  'reportingTableWriteCapacity',
  'opensearchUrl',
  'opensearchSigv4Service',
  'opensearchDomainName',
  'opensearchCollectionArn',
  'opensearchBasicAuthSecretArn',
  'opensearchIndexTemplate',
  'opensearchIndexBody',
  'createMskServerless',
  'createOpenSearchDomain',
  'opensearchInstanceType',
  'opensearchInstanceCount',
  'opensearchVolumeGiB',
  'alarmEmail',
  'alarmTopicArn',
  'alarmLagSeconds',
  'alarmCheckpointAgeSeconds',
  'alarmSinkLatencySeconds',
  'metricsNamespace',
  'logRetentionInDays',
  'logLevel',
];

/** Lambda function names are at most 64 characters; serverless names them <service>-<stage>-<key>. */
const MAX_FUNCTION_NAME = 64;

/** The logical id serverless gives a function's resources (its naming.getNormalizedFunctionName). */
function normalizedFunctionName(key) {
  return (key.charAt(0).toUpperCase() + key.slice(1)).replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
}

function loadStreamSchema() {
  // The relay's own schema, so a stream the relay would refuse at cold start is refused at deploy time instead.
  const { require: tsxRequire } = require('tsx/cjs/api');
  return tsxRequire('../../functions/relay/relay-config.ts', __filename).streamSchema;
}

class Problems {
  constructor() {
    this.list = [];
  }
  add(message) {
    this.list.push(message);
  }
}

function asList(value) {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.map(String).map((item) => item.trim()).filter(Boolean);
  const text = String(value).trim();
  if (text.startsWith('[')) return asList(JSON.parse(text));
  return text.split(',').map((item) => item.trim()).filter(Boolean);
}

function asStructured(value) {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function asBoolean(name, value, problems) {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  problems.add(`${name} must be true or false, got ${JSON.stringify(value)}`);
  return false;
}

function asInteger(name, value, problems, min, max) {
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(number) || number < min || number > max) {
    problems.add(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return min;
  }
  return number;
}

function oneOf(name, value, allowed, problems) {
  if (!allowed.includes(value)) problems.add(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

/** Topics a stream may write: exact names where the stream names its collection, a prefix pattern otherwise. */
function streamTopics(stream) {
  const prefix = stream.topicPrefix;
  const topics = new Set(Object.values(stream.topics));
  const overridden = (namespace) => stream.topics[namespace] !== undefined;
  if (stream.database && stream.collection) {
    const namespace = `${stream.database}.${stream.collection}`;
    if (!overridden(namespace)) topics.add(`${prefix}.${namespace}`);
  } else if (stream.database) {
    topics.add(`${prefix}.${stream.database}.*`);
  } else {
    topics.add(`${prefix}.*`);
  }
  return { topics: [...topics].sort(), deadLetterTopic: stream.deadLetterTopic ?? `${prefix}.dead-letter` };
}

/** The sinks' default topics: known only for collection streams without overrides. */
function derivableTopics(streams) {
  const topics = [];
  for (const stream of streams) {
    const { topics: written } = streamTopics(stream);
    if (written.some((topic) => topic.includes('*'))) return undefined;
    topics.push(...written);
  }
  return [...new Set(topics)].sort();
}

function parseMskArn(arn) {
  const match = /^arn:(aws[a-zA-Z-]*):kafka:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)$/.exec(arn);
  return match ? { partition: match[1], region: match[2], account: match[3], name: match[4], uuid: match[5] } : undefined;
}

async function readSettings(resolveVariable) {
  const stage = await resolveVariable('sls:stage');
  const service = await resolveVariable('self:service');
  const fromParams = {};
  for (const name of KNOWN) {
    const value = await resolveVariable(`param:${name}, null`);
    if (value !== null && value !== undefined && value !== '') fromParams[name] = value;
  }
  let fromFile = {};
  if (fromParams.config) {
    fromFile = await resolveVariable(`file(${fromParams.config}), null`);
    if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new Error(`mongo-cdc settings: config file ${fromParams.config} is missing or is not a map of settings`);
    }
  }
  return { stage, service, fromParams, fromFile };
}

function buildConfig({ stage, service, fromParams, fromFile }, streamSchema) {
  const problems = new Problems();
  for (const key of Object.keys(fromFile)) {
    if (!KNOWN.includes(key) || key === 'config') problems.add(`config file: unknown setting "${key}"`);
  }
  const given = (name) => fromParams[name] ?? fromFile[name];
  const get = (name) => given(name) ?? DEFAULTS[name];
  const parse = (name, parser) => {
    try {
      return parser(given(name));
    } catch (error) {
      problems.add(`${name} is not valid JSON (${error.message})`);
      return undefined;
    }
  };

  // Streams: validated with the relay's own schema.
  const rawStreams = given('streams') === undefined ? undefined : parse('streams', asStructured);
  let streams = [];
  if (rawStreams === undefined) {
    problems.add('streams is required: a list of change streams, e.g. [{"id":"orders","database":"shop","collection":"orders"}]');
  } else {
    const parsed = streamSchema.array().min(1).safeParse(rawStreams);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.add(`streams[${issue.path.join('.')}]: ${issue.message}`);
    } else {
      streams = parsed.data;
      const ids = streams.map((stream) => stream.id);
      if (new Set(ids).size !== ids.length) problems.add('streams: stream ids must be unique');
    }
  }

  // MongoDB connection strings: one Secrets Manager secret per variable the streams read.
  const mongoUriSecret = get('mongoUriSecret') ?? `mongo-cdc/${stage}/mongodb-uri`;
  const extraSecrets = given('mongoUriSecrets') === undefined ? {} : parse('mongoUriSecrets', asStructured) ?? {};
  const secretFor = { MONGODB_URI: mongoUriSecret, ...extraSecrets };
  for (const stream of streams) {
    if (!secretFor[stream.uriVariable]) {
      problems.add(`stream "${stream.id}" reads ${stream.uriVariable}: add {"${stream.uriVariable}": "<secret name or ARN>"} to mongoUriSecrets`);
    }
  }

  // Kafka.
  const createMskServerless = asBoolean('createMskServerless', get('createMskServerless'), problems);
  const source = oneOf('kafkaEventSource', get('kafkaEventSource'), ['msk', 'kafka'], problems);
  const auth = oneOf('kafkaAuth', get('kafkaAuth'), ['iam', 'scram-sha-512', 'scram-sha-256', 'tls', 'none'], problems);
  const brokers = asList(given('kafkaBrokers'));
  const mskClusterArn = given('mskClusterArn');
  let msk;
  if (createMskServerless) {
    if (source !== 'msk') problems.add('createMskServerless needs kafkaEventSource "msk"');
    if (auth !== 'iam') problems.add('createMskServerless needs kafkaAuth "iam" (MSK Serverless authenticates with IAM only)');
    if (mskClusterArn) problems.add('give either mskClusterArn or createMskServerless, not both');
    msk = { name: `${service}-${stage}`.slice(0, 64), uuid: '*', created: true };
  } else if (source === 'msk') {
    if (!mskClusterArn) problems.add('mskClusterArn is required with kafkaEventSource "msk" (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)');
    else {
      const parsed = parseMskArn(mskClusterArn);
      if (!parsed) problems.add(`mskClusterArn is not an MSK cluster ARN: ${mskClusterArn}`);
      else msk = { ...parsed, arn: mskClusterArn, created: false };
    }
  }
  if (brokers.length === 0 && !createMskServerless) problems.add('kafkaBrokers is required: the bootstrap brokers, comma-separated');
  if (source === 'kafka' && auth === 'iam') problems.add('kafkaAuth "iam" works with Amazon MSK only (kafkaEventSource "msk")');
  const kafkaSecretArn = given('kafkaSecretArn');
  if (auth.startsWith('scram')) {
    if (!kafkaSecretArn || !ARN.test(kafkaSecretArn)) {
      problems.add(`kafkaAuth "${auth}" needs kafkaSecretArn: the ARN of a Secrets Manager secret {"username": ..., "password": ...}`);
    }
    if (source === 'msk' && auth !== 'scram-sha-512') problems.add('Amazon MSK supports SASL/SCRAM-SHA-512 only');
  }
  const kafkaSecretKmsKeyArn = given('kafkaSecretKmsKeyArn');
  if (kafkaSecretKmsKeyArn && !ARN.test(kafkaSecretKmsKeyArn)) problems.add('kafkaSecretKmsKeyArn must be a KMS key ARN');

  // Network.
  const subnetIds = asList(given('vpcSubnets'));
  const securityGroupIds = asList(given('vpcSecurityGroups'));
  for (const subnet of subnetIds) if (!/^subnet-[a-z0-9]+$/.test(subnet)) problems.add(`vpcSubnets: "${subnet}" is not a subnet id`);
  for (const group of securityGroupIds) if (!/^sg-[a-z0-9]+$/.test(group)) problems.add(`vpcSecurityGroups: "${group}" is not a security group id`);
  if ((subnetIds.length === 0) !== (securityGroupIds.length === 0)) problems.add('vpcSubnets and vpcSecurityGroups go together: give both or neither');
  if (source === 'msk' && subnetIds.length === 0) {
    problems.add('Amazon MSK is reachable only inside its VPC: give vpcSubnets and vpcSecurityGroups (private subnets with a route to MSK)');
  }
  const vpc = subnetIds.length > 0 ? { subnetIds, securityGroupIds } : undefined;

  // Relay.
  const relayTimeout = asInteger('relayTimeout', get('relayTimeout'), problems, 15, 900);
  const relaySafetyMarginMs = asInteger('relaySafetyMarginMs', get('relaySafetyMarginMs'), problems, 1000, 600000);
  if (relaySafetyMarginMs >= relayTimeout * 1000) problems.add('relaySafetyMarginMs must be shorter than relayTimeout');

  // Sinks.
  const topicPrefix = get('topicPrefix');
  const sinkNames = asList(get('sinks'));
  for (const sink of sinkNames) oneOf('sinks', sink, ['dynamodb', 'opensearch'], problems);
  const enabled = { dynamodb: sinkNames.includes('dynamodb'), opensearch: sinkNames.includes('opensearch') };
  const sinkTopicsGiven = given('sinkTopics');
  let sinkTopics = { dynamodb: [], opensearch: [] };
  if (sinkTopicsGiven !== undefined) {
    const structured = typeof sinkTopicsGiven === 'string' && sinkTopicsGiven.trim().startsWith('{') ? parse('sinkTopics', asStructured) : sinkTopicsGiven;
    if (structured && typeof structured === 'object' && !Array.isArray(structured)) {
      for (const key of Object.keys(structured)) if (!(key in sinkTopics)) problems.add(`sinkTopics: unknown sink "${key}"`);
      sinkTopics = { dynamodb: asList(structured.dynamodb), opensearch: asList(structured.opensearch) };
    } else {
      const list = asList(structured);
      sinkTopics = { dynamodb: list, opensearch: list };
    }
  } else if (sinkNames.length > 0) {
    const derived = derivableTopics(streams);
    if (derived) sinkTopics = { dynamodb: derived, opensearch: derived };
    else if (streams.length > 0) problems.add('sinkTopics is required: a stream watches a database or the whole deployment, so its topics are not known in advance');
  }
  for (const sink of ['dynamodb', 'opensearch']) {
    if (enabled[sink] && sinkTopics[sink].length === 0) problems.add(`sinkTopics names no topic for the ${sink} sink`);
    for (const topic of sinkTopics[sink]) if (topic.includes('*')) problems.add(`sinkTopics: "${topic}": Lambda event sources read named topics only`);
  }
  const sinkDeadLetterTopic = get('sinkDeadLetterTopic') ?? `${topicPrefix}.sink-dead-letter`;
  // A batch that keeps failing must end in the on-failure destination, not retry until its records leave the topic:
  // with an on-failure queue, retries are bounded by default. Lambda applies a Kafka mapping's retry limit only in
  // provisioned mode, so bounded retries bring provisioned pollers (one poller group per stage, so the mappings share
  // event poller units). Without an on-failure destination, a bounded limit would discard the batch with no record of
  // it: then retries stay unlimited and the Errors alarm is what tells.
  const onFailure = oneOf('sinkOnFailure', get('sinkOnFailure'), ['sqs', 'none'], problems);
  const sinkMaxRetryAttempts = asInteger('sinkMaxRetryAttempts', given('sinkMaxRetryAttempts') ?? (onFailure === 'sqs' ? DEFAULT_SINK_RETRIES : -1), problems, -1, 10000);
  if (sinkMaxRetryAttempts !== -1 && onFailure !== 'sqs') {
    problems.add('sinkMaxRetryAttempts other than -1 needs sinkOnFailure "sqs": without an on-failure destination Lambda would discard the failing batch with no record of it');
  }
  const provisionedGiven = given('sinkProvisionedPollers');
  const provisioned = provisionedGiven === 'none' ? [] : asList(provisionedGiven ?? (sinkMaxRetryAttempts !== -1 ? DEFAULT_PROVISIONED_POLLERS : undefined));
  let provisionedPollers;
  if (provisioned.length > 0) {
    const [min, max] = provisioned.map((value, index) => asInteger(`sinkProvisionedPollers[${index}]`, value, problems, 1, 2000));
    if (provisioned.length !== 2 || max < min) problems.add('sinkProvisionedPollers is "<minimum>,<maximum>" pollers');
    else provisionedPollers = { min, max, group: `${service}-${stage}`.slice(0, 128) };
  }
  if (sinkMaxRetryAttempts !== -1 && !provisionedPollers) {
    problems.add('sinkMaxRetryAttempts needs sinkProvisionedPollers: Lambda applies Kafka retry limits in provisioned mode only');
  }

  // OpenSearch.
  const createOpenSearchDomain = asBoolean('createOpenSearchDomain', get('createOpenSearchDomain'), problems);
  const sigv4 = oneOf('opensearchSigv4Service', get('opensearchSigv4Service'), ['es', 'aoss', 'none'], problems);
  const opensearch = {
    url: given('opensearchUrl'),
    sigv4,
    domainName: given('opensearchDomainName'),
    collectionArn: given('opensearchCollectionArn'),
    basicAuthSecretArn: given('opensearchBasicAuthSecretArn'),
    indexTemplate: given('opensearchIndexTemplate'),
    indexBody: given('opensearchIndexBody') === undefined ? undefined : JSON.stringify(parse('opensearchIndexBody', asStructured)),
    create: createOpenSearchDomain,
    instanceType: get('opensearchInstanceType'),
    instanceCount: asInteger('opensearchInstanceCount', get('opensearchInstanceCount'), problems, 1, 80),
    volumeGiB: asInteger('opensearchVolumeGiB', get('opensearchVolumeGiB'), problems, 10, 16384),
  };
  if (enabled.opensearch) {
    if (createOpenSearchDomain) {
      if (opensearch.url) problems.add('give either opensearchUrl or createOpenSearchDomain, not both');
      if (sigv4 !== 'es') problems.add('createOpenSearchDomain signs requests with IAM: opensearchSigv4Service must be "es"');
      if (!vpc) problems.add('createOpenSearchDomain places the domain in your VPC: give vpcSubnets and vpcSecurityGroups');
      opensearch.domainName = opensearch.domainName ?? `${service}-${stage}`.slice(0, 28).replace(/-+$/, '');
    } else if (!opensearch.url || !/^https?:\/\//.test(opensearch.url)) {
      problems.add('opensearchUrl is required for the opensearch sink (https://...), or set createOpenSearchDomain');
    }
    if (sigv4 === 'es' && !opensearch.domainName) problems.add('opensearchDomainName is required with opensearchSigv4Service "es" (it scopes the sink\'s IAM policy)');
    if (sigv4 === 'aoss' && !(opensearch.collectionArn && ARN.test(opensearch.collectionArn))) {
      problems.add('opensearchCollectionArn is required with opensearchSigv4Service "aoss"');
    }
    if (opensearch.basicAuthSecretArn && !ARN.test(opensearch.basicAuthSecretArn)) problems.add('opensearchBasicAuthSecretArn must be a secret ARN');
  }

  // Reporting table.
  const billingMode = oneOf('reportingTableBillingMode', get('reportingTableBillingMode'), ['PAY_PER_REQUEST', 'PROVISIONED'], problems);

  // Alarms.
  const alarmTopicArn = given('alarmTopicArn');
  if (alarmTopicArn && !ARN.test(alarmTopicArn)) problems.add('alarmTopicArn must be an SNS topic ARN');

  // Functions, named as serverless names them.
  const functionNameOf = (key) => `${service}-${stage}-${key}`;
  const relays = streams.map((stream) => {
    const key = `relay-${stream.id}`;
    if (functionNameOf(key).length > MAX_FUNCTION_NAME) {
      problems.add(`stream "${stream.id}": function name ${functionNameOf(key)} is longer than ${MAX_FUNCTION_NAME} characters; use a shorter id or stage`);
    }
    return {
      id: stream.id,
      key,
      functionName: functionNameOf(key),
      logicalName: normalizedFunctionName(key),
      uriVariable: stream.uriVariable,
      ...streamTopics(stream),
    };
  });
  const sinkFunction = (sink) => {
    const key = sink === 'dynamodb' ? 'sinkDynamodb' : 'sinkOpensearch';
    return { key, functionName: functionNameOf(key), logicalName: normalizedFunctionName(key) };
  };

  const secrets = [...new Set(streams.map((stream) => stream.uriVariable))].map((variable) => ({ variable, secret: secretFor[variable] }));
  const config = {
    service,
    stage,
    streamsJson: JSON.stringify(rawStreams),
    relays,
    secrets,
    kafka: {
      source,
      auth,
      brokers: brokers.join(','),
      secretArn: kafkaSecretArn,
      secretKmsKeyArn: kafkaSecretKmsKeyArn,
      maxMessageBytes: given('kafkaMaxMessageBytes') === undefined ? undefined : String(given('kafkaMaxMessageBytes')),
      allowTopicCreation: asBoolean('allowTopicCreation', get('allowTopicCreation'), problems),
      msk,
      // Without brokers (MSK Serverless on its first deploy) nothing can connect yet: schedules and event sources
      // are deployed disabled until a second deploy passes kafkaBrokers.
      ready: brokers.length > 0,
    },
    vpc,
    relay: {
      schedule: get('relaySchedule'),
      memorySize: asInteger('relayMemorySize', get('relayMemorySize'), problems, 128, 10240),
      timeout: relayTimeout,
      safetyMarginMs: relaySafetyMarginMs,
    },
    sinks: {
      enabled,
      topics: sinkTopics,
      functions: { dynamodb: sinkFunction('dynamodb'), opensearch: sinkFunction('opensearch') },
      topicPrefix,
      deadLetterTopic: sinkDeadLetterTopic,
      batchSize: asInteger('sinkBatchSize', get('sinkBatchSize'), problems, 1, 10000),
      batchingWindowSeconds: asInteger('sinkBatchingWindowSeconds', get('sinkBatchingWindowSeconds'), problems, 0, 300),
      startingPosition: oneOf('sinkStartingPosition', get('sinkStartingPosition'), ['TRIM_HORIZON', 'LATEST'], problems),
      memorySize: asInteger('sinkMemorySize', get('sinkMemorySize'), problems, 128, 10240),
      timeout: asInteger('sinkTimeout', get('sinkTimeout'), problems, 10, 900),
      onFailure,
      maxRetryAttempts: sinkMaxRetryAttempts,
      provisionedPollers,
      eventSourcesEnabled: asBoolean('sinkEventSourcesEnabled', get('sinkEventSourcesEnabled'), problems),
      consumerGroupPrefix: `${service}-${stage}`,
      tombstoneTtlSeconds: String(asInteger('tombstoneTtlSeconds', get('tombstoneTtlSeconds'), problems, 1, 31536000)),
    },
    reportingTable: {
      billingMode,
      readCapacity: asInteger('reportingTableReadCapacity', get('reportingTableReadCapacity'), problems, 1, 40000),
      writeCapacity: asInteger('reportingTableWriteCapacity', get('reportingTableWriteCapacity'), problems, 1, 40000),
    },
    opensearch,
    alarms: {
      email: given('alarmEmail'),
      topicArn: alarmTopicArn,
      lagSeconds: asInteger('alarmLagSeconds', get('alarmLagSeconds'), problems, 1, 86400),
      checkpointAgeSeconds: asInteger('alarmCheckpointAgeSeconds', get('alarmCheckpointAgeSeconds'), problems, 60, 86400),
      sinkLatencySeconds: asInteger('alarmSinkLatencySeconds', get('alarmSinkLatencySeconds'), problems, 1, 86400),
    },
    // Per stage, so two stages in one account never share (or trip each other's) alarms.
    metricsNamespace: get('metricsNamespace') ?? `MongoCdc/${stage}`,
    logRetentionInDays: asInteger('logRetentionInDays', get('logRetentionInDays'), problems, 1, 3653),
    logLevel: oneOf('logLevel', get('logLevel'), ['DEBUG', 'INFO', 'WARN', 'ERROR'], problems),
  };
  if (problems.list.length > 0) {
    throw new Error(`mongo-cdc settings for stage "${stage}" are incomplete or invalid:\n- ${problems.list.join('\n- ')}`);
  }
  return config;
}

let pending;

/** The validated settings; computed once per serverless run (functions.js and resources.js share them). */
async function loadConfig(resolveVariable) {
  // Serverless resolves variables in phases and rejects a variable whose source is not ready yet; such a failure
  // must not be remembered, or the later, successful phase would see it.
  if (!pending) {
    pending = readSettings(resolveVariable).then((settings) => buildConfig(settings, loadStreamSchema()));
    pending.catch(() => {
      pending = undefined;
    });
  }
  return pending;
}

module.exports = async ({ resolveVariable }) => loadConfig(resolveVariable);
module.exports.loadConfig = loadConfig;
module.exports.buildConfig = buildConfig;
module.exports.KNOWN = KNOWN;
module.exports.DEFAULTS = DEFAULTS;
