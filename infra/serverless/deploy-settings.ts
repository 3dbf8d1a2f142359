import { z } from 'zod';
import { type StreamConfig, streamSchema } from '../../functions/relay/relay-config';
import { DEFAULT_TOPIC_PREFIX, deadLetterTopicOf, topicsOfStream } from '../../shared/topic-naming';

/*
 * The deployment's settings, validated together with one zod schema, so `serverless deploy` fails before touching AWS
 * with one message listing every problem, each naming its setting (and, for a misspelt name, the setting it resembles).
 * Streams are validated with the relay's own schema, so a stream the relay would refuse at cold start is refused at
 * deploy time. config.js (the file serverless.yml loads) reads the raw values and calls buildConfig; functions.js and
 * resources.js build the functions and the CloudFormation resources from the result.
 *
 * Where a setting comes from, first match wins:
 *   1. a parameter: --param="name=value" on the command line, or `params:` in serverless.yml (per stage);
 *   2. the config file named by --param="config=path/to/settings.yml" (YAML or JSON, keys as below);
 *   3. the default.
 * Parameters are strings: lists are comma-separated or JSON, maps and stream lists are JSON. In the config file they
 * are plain YAML values.
 */

const ARN = /^arn:aws[a-zA-Z-]*:/;
/** Lambda function names are at most 64 characters; serverless names them <service>-<stage>-<key>. */
const MAX_FUNCTION_NAME = 64;
/** Retries of a failing sink batch before it goes to the on-failure queue (with sinkOnFailure "sqs"). */
const DEFAULT_SINK_RETRIES = 10;
/** Provisioned pollers (minimum, maximum) per mapping when retries are bounded; Lambda's own default maximum is 200. */
const DEFAULT_PROVISIONED_POLLERS = [1, 10] as const;

// ---- Value parsers: parameters arrive as strings, the config file gives YAML values; both are accepted. ----------

const got = (value: unknown) => JSON.stringify(value);

function integer(min: number, max: number) {
  return z.unknown().transform((value, context) => {
    const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : Number.NaN;
    if (!Number.isInteger(number) || number < min || number > max) {
      context.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got ${got(value)}` });
      return z.NEVER;
    }
    return number;
  });
}

const boolean = z.unknown().transform((value, context) => {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  context.addIssue({ code: 'custom', message: `must be true or false, got ${got(value)}` });
  return z.NEVER;
});

function oneOf<const T extends readonly [string, ...string[]]>(allowed: T) {
  return z.unknown().transform((value, context): T[number] => {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T[number];
    context.addIssue({ code: 'custom', message: `must be one of ${allowed.join(', ')}, got ${got(value)}` });
    return z.NEVER;
  });
}

/** JSON text (a parameter) or the value itself (the config file). */
function structured(context: z.RefinementCtx, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: `is not valid JSON (${(error as Error).message})` });
    return z.NEVER;
  }
}

function listOf(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value.map(String).map((item) => item.trim()).filter(Boolean);
  return String(value).split(',').map((item) => item.trim()).filter(Boolean);
}

/** A list: YAML list, JSON list text, or comma-separated text. */
const list = z.unknown().transform((value, context) => {
  const text = typeof value === 'string' ? value.trim() : undefined;
  return listOf(text?.startsWith('[') ? structured(context, text) : value);
});

const text = z.unknown().transform((value, context) => {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  context.addIssue({ code: 'custom', message: `must be a string, got ${got(value)}` });
  return z.NEVER;
});
const arn = text.refine((value) => ARN.test(value), { message: 'must be an ARN (arn:aws:...)' });

const streams = z.unknown().transform((value, context) => {
  const parsed = streamSchema.array().min(1).safeParse(structured(context, value));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) context.addIssue({ code: 'custom', message: `[${issue.path.join('.')}]: ${issue.message}` });
    return z.NEVER;
  }
  const ids = parsed.data.map((stream) => stream.id);
  if (new Set(ids).size !== ids.length) context.addIssue({ code: 'custom', message: 'stream ids must be unique' });
  return { raw: structured(context, value) as unknown[], parsed: parsed.data };
});

const stringMap = z.unknown().transform((value, context) => {
  const parsed = z.record(z.string(), z.string()).safeParse(structured(context, value));
  if (!parsed.success) {
    context.addIssue({ code: 'custom', message: 'must be a map of names to strings' });
    return z.NEVER;
  }
  return parsed.data;
});

const SINKS = ['dynamodb', 'opensearch'] as const;
type Sink = (typeof SINKS)[number];

/** One list for both sinks, or {"dynamodb": [...], "opensearch": [...]}. */
const sinkTopics = z.unknown().transform((value, context): Record<Sink, string[]> => {
  const given = typeof value === 'string' && value.trim().startsWith('{') ? structured(context, value) : value;
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    const map = given as Record<string, unknown>;
    for (const key of Object.keys(map)) if (!(SINKS as readonly string[]).includes(key)) context.addIssue({ code: 'custom', message: `unknown sink "${key}"` });
    return { dynamodb: listOf(map.dynamodb), opensearch: listOf(map.opensearch) };
  }
  const topics = list.parse(given);
  return { dynamodb: topics, opensearch: topics };
});

const json = z.unknown().transform((value, context) => JSON.stringify(structured(context, value)));

/** Every setting a user may give, with its parser and default; any other name fails the deploy. */
export const deploySettingsSchema = z.strictObject({
  config: text.optional(),
  streams: streams.optional(),
  mongoUriSecret: text.optional(),
  mongoUriSecrets: stringMap.optional(),
  kafkaEventSource: oneOf(['msk', 'kafka']).default('msk'),
  mskClusterArn: text.optional(),
  kafkaBrokers: list.default([]),
  kafkaAuth: oneOf(['iam', 'scram-sha-512', 'scram-sha-256', 'tls', 'none']).default('iam'),
  kafkaSecretArn: text.optional(),
  kafkaSecretKmsKeyArn: arn.optional(),
  kafkaMaxMessageBytes: integer(1024, 100 * 1024 * 1024).optional(),
  allowTopicCreation: boolean.default(false),
  vpcSubnets: list.default([]),
  vpcSecurityGroups: list.default([]),
  topicPrefix: text.default(DEFAULT_TOPIC_PREFIX),
  relaySchedule: text.default('rate(1 minute)'),
  relayMemorySize: integer(128, 10240).default(512),
  // The relay works until (timeout - safety margin) and then checkpoints and closes. 70 s and 12 s leave it about
  // 58 s of each minute, so it has finished before the next scheduled run: an overlapping run would be throttled by
  // the reserved concurrency of 1, and Lambda retries a throttled scheduled event only after a backoff.
  relayTimeout: integer(15, 900).default(70),
  relaySafetyMarginMs: integer(1000, 600000).default(12000),
  // RELAY_READ_THREAD: set only when given (the function's own default is auto: a read thread above 1,769 MB).
  relayReadThread: z.enum(['auto', 'on', 'off']).optional(),
  // SNAPSHOT_READ_THREAD, passed only when set: the function's own default (auto) reads snapshot chunks on a thread of
  // their own where the function has more than one vCPU's worth of CPU (relayMemorySize above 1769).
  relaySnapshotReadThread: oneOf(['auto', 'on', 'off']).optional(),
  sinks: list.default([...SINKS]),
  sinkTopics: sinkTopics.optional(),
  sinkDeadLetterTopic: text.optional(),
  sinkBatchSize: integer(1, 10000).default(500),
  sinkBatchingWindowSeconds: integer(0, 300).default(1),
  sinkStartingPosition: oneOf(['TRIM_HORIZON', 'LATEST']).default('TRIM_HORIZON'),
  sinkMemorySize: integer(128, 10240).default(512),
  sinkTimeout: integer(10, 900).default(120),
  sinkOnFailure: oneOf(['sqs', 'none']).default('sqs'),
  sinkMaxRetryAttempts: integer(-1, 10000).optional(),
  sinkProvisionedPollers: z.unknown().optional(),
  sinkEventSourcesEnabled: boolean.default(true),
  tombstoneTtlSeconds: integer(1, 31536000).default(604800),
  // The sinks' tuning, passed to their variables only when set (the functions' own defaults apply otherwise).
  sinkDynamodbConcurrency: integer(1, 256).optional(),
  sinkDynamodbMaxAttempts: integer(1, 100).optional(),
  opensearchBulkDocuments: integer(1, 10000).optional(),
  opensearchBulkBytes: integer(65536, 104857600).optional(),
  opensearchBulkConcurrency: integer(1, 16).optional(),
  opensearchRetryBaseMs: integer(1, 60000).optional(),
  reportingTableBillingMode: oneOf(['PAY_PER_REQUEST', 'PROVISIONED']).default('PAY_PER_REQUEST'),
  reportingTableReadCapacity: integer(1, 40000).default(5),
  reportingTableWriteCapacity: integer(1, 40000).default(5),
  opensearchUrl: text.optional(),
  opensearchSigv4Service: oneOf(['es', 'aoss', 'none']).default('es'),
  opensearchDomainName: text.optional(),
  opensearchCollectionArn: text.optional(),
  opensearchBasicAuthSecretArn: arn.optional(),
  opensearchIndexTemplate: text.optional(),
  opensearchIndexBody: json.optional(),
  createMskServerless: boolean.default(false),
  createOpenSearchDomain: boolean.default(false),
  opensearchInstanceType: text.default('t3.small.search'),
  opensearchInstanceCount: integer(1, 80).default(2),
  opensearchVolumeGiB: integer(10, 16384).default(20),
  alarmEmail: text.optional(),
  alarmTopicArn: arn.optional(),
  alarmLagSeconds: integer(1, 86400).default(300),
  alarmCheckpointAgeSeconds: integer(60, 86400).default(600),
  alarmSinkLatencySeconds: integer(1, 86400).default(900),
  metricsNamespace: text.optional(),
  logRetentionInDays: integer(1, 3653).default(30),
  logLevel: oneOf(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
});

export type DeploySettings = z.output<typeof deploySettingsSchema>;
export const KNOWN: readonly string[] = Object.keys(deploySettingsSchema.shape);

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** `unknown setting "x"`, with the closest known name when one is near. */
export function unknownSetting(name: string): string {
  const [closest] = KNOWN.filter((known) => known !== 'config')
    .map((known) => ({ known, cost: distance(name, known) }))
    .sort((a, b) => a.cost - b.cost);
  const near = closest && closest.cost <= Math.max(2, Math.floor(name.length / 4));
  return `unknown setting "${name}"${near ? ` (did you mean "${closest.known}"?)` : ''}`;
}

// ---- Topic naming -----------------------------------------------------------------------------------------------

/**
 * Topics a stream may write, for its IAM policy and the sinks' default topics, by the one topic-naming rule
 * (shared/topic-naming.ts). Where the rule gives a pattern (a database or deployment stream), IAM gets its wildcard
 * form `<prefix>.<db>.*` / `<prefix>.*`: IAM topic resources know only "*".
 */
function streamTopics(stream: StreamConfig): { topics: string[]; deadLetterTopic: string } {
  const iamPattern = stream.database ? `${stream.topicPrefix}.${stream.database}.*` : `${stream.topicPrefix}.*`;
  const topics = topicsOfStream(stream, stream).map((topic) => (typeof topic === 'string' ? topic : iamPattern));
  return { topics: [...new Set(topics)].sort(), deadLetterTopic: deadLetterTopicOf(stream) };
}

/** The sinks' default topics: known only for collection streams without overrides. */
function derivableTopics(streams: readonly StreamConfig[]): string[] | undefined {
  const topics: string[] = [];
  for (const stream of streams) {
    const { topics: written } = streamTopics(stream);
    if (written.some((topic) => topic.includes('*'))) return undefined;
    topics.push(...written);
  }
  return [...new Set(topics)].sort();
}

// ---- Building the configuration ----------------------------------------------------------------------------------

/** The logical id serverless gives a function's resources (its naming.getNormalizedFunctionName). */
function normalizedFunctionName(key: string): string {
  return (key.charAt(0).toUpperCase() + key.slice(1)).replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
}

function parseMskArn(value: string) {
  const match = /^arn:(aws[a-zA-Z-]*):kafka:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)$/.exec(value);
  return match ? { partition: match[1] as string, region: match[2] as string, account: match[3] as string, name: match[4] as string, uuid: match[5] as string } : undefined;
}

export interface RawSettings {
  readonly stage: string;
  readonly service: string;
  /** Parameters by name, as serverless gives them (strings). */
  readonly fromParams: Record<string, unknown>;
  /** The config file's map, if one was named. */
  readonly fromFile: Record<string, unknown>;
}

export class DeploySettingsError extends Error {
  constructor(
    stage: string,
    readonly problems: readonly string[],
  ) {
    super(`mongo-cdc settings for stage "${stage}" are incomplete or invalid:\n- ${problems.join('\n- ')}`);
    this.name = 'DeploySettingsError';
  }
}

/** Validates the settings and derives everything functions.js and resources.js build from. */
export function buildConfig({ stage, service, fromParams, fromFile }: RawSettings) {
  const problems: string[] = [];
  const fileProblems: string[] = [];
  for (const key of Object.keys(fromFile)) if (!KNOWN.includes(key) || key === 'config') fileProblems.push(`config file: ${unknownSetting(key)}`);
  for (const key of Object.keys(fromParams)) if (!KNOWN.includes(key)) fileProblems.push(`parameter: ${unknownSetting(key)}`);
  const merged: Record<string, unknown> = {};
  for (const [key, value] of [...Object.entries(fromFile), ...Object.entries(fromParams)]) {
    if (KNOWN.includes(key) && value !== undefined && value !== null && value !== '') merged[key] = value;
  }
  problems.push(...fileProblems);
  if (merged.streams === undefined) problems.push('streams is required: a list of change streams, e.g. [{"id":"orders","database":"shop","collection":"orders"}]');
  let parsed = deploySettingsSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [name = '', ...rest] = issue.path.map(String);
      problems.push(`${name}${rest.length > 0 ? `.${rest.join('.')}` : ''}${issue.message.startsWith('[') ? '' : ' '}${issue.message}`);
      delete merged[name];
    }
    // Carry on without the refused values, so the rest of the settings are checked too and every problem is listed.
    parsed = deploySettingsSchema.safeParse(merged);
    if (!parsed.success) throw new DeploySettingsError(stage, problems);
  }
  const s = parsed.data;
  const streamList = s.streams?.parsed ?? [];

  // MongoDB connection strings: one Secrets Manager secret per variable the streams read.
  const secretFor: Record<string, string> = { MONGODB_URI: s.mongoUriSecret ?? `mongo-cdc/${stage}/mongodb-uri`, ...s.mongoUriSecrets };
  for (const stream of streamList) {
    if (!secretFor[stream.uriVariable]) {
      problems.push(`stream "${stream.id}" reads ${stream.uriVariable}: add {"${stream.uriVariable}": "<secret name or ARN>"} to mongoUriSecrets`);
    }
  }

  // Kafka.
  const source = s.kafkaEventSource;
  const auth = s.kafkaAuth;
  const brokers = s.kafkaBrokers;
  let msk: { name: string; uuid: string; created: true } | (NonNullable<ReturnType<typeof parseMskArn>> & { arn: string; created: false }) | undefined;
  if (s.createMskServerless) {
    if (source !== 'msk') problems.push('createMskServerless needs kafkaEventSource "msk"');
    if (auth !== 'iam') problems.push('createMskServerless needs kafkaAuth "iam" (MSK Serverless authenticates with IAM only)');
    if (s.mskClusterArn) problems.push('give either mskClusterArn or createMskServerless, not both');
    msk = { name: `${service}-${stage}`.slice(0, 64), uuid: '*', created: true };
  } else if (source === 'msk') {
    if (!s.mskClusterArn) problems.push('mskClusterArn is required with kafkaEventSource "msk" (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>)');
    else {
      const arnParts = parseMskArn(s.mskClusterArn);
      if (!arnParts) problems.push(`mskClusterArn is not an MSK cluster ARN: ${s.mskClusterArn}`);
      else msk = { ...arnParts, arn: s.mskClusterArn, created: false };
    }
  }
  if (brokers.length === 0 && !s.createMskServerless) problems.push('kafkaBrokers is required: the bootstrap brokers, comma-separated');
  if (source === 'kafka' && auth === 'iam') problems.push('kafkaAuth "iam" works with Amazon MSK only (kafkaEventSource "msk")');
  if (auth.startsWith('scram')) {
    if (!s.kafkaSecretArn || !ARN.test(s.kafkaSecretArn)) {
      problems.push(`kafkaAuth "${auth}" needs kafkaSecretArn: the ARN of a Secrets Manager secret {"username": ..., "password": ...}`);
    }
    if (source === 'msk' && auth !== 'scram-sha-512') problems.push('Amazon MSK supports SASL/SCRAM-SHA-512 only');
  }

  // Network.
  const subnetIds = s.vpcSubnets;
  const securityGroupIds = s.vpcSecurityGroups;
  for (const subnet of subnetIds) if (!/^subnet-[a-z0-9]+$/.test(subnet)) problems.push(`vpcSubnets: "${subnet}" is not a subnet id`);
  for (const group of securityGroupIds) if (!/^sg-[a-z0-9]+$/.test(group)) problems.push(`vpcSecurityGroups: "${group}" is not a security group id`);
  if ((subnetIds.length === 0) !== (securityGroupIds.length === 0)) problems.push('vpcSubnets and vpcSecurityGroups go together: give both or neither');
  if (source === 'msk' && subnetIds.length === 0) {
    problems.push('Amazon MSK is reachable only inside its VPC: give vpcSubnets and vpcSecurityGroups (private subnets with a route to MSK)');
  }
  const vpc = subnetIds.length > 0 ? { subnetIds, securityGroupIds } : undefined;

  // Relay.
  if (s.relaySafetyMarginMs >= s.relayTimeout * 1000) problems.push('relaySafetyMarginMs must be shorter than relayTimeout');

  // Sinks.
  for (const sink of s.sinks) if (!(SINKS as readonly string[]).includes(sink)) problems.push(`sinks must be one of ${SINKS.join(', ')}, got "${sink}"`);
  const enabled = { dynamodb: s.sinks.includes('dynamodb'), opensearch: s.sinks.includes('opensearch') };
  let topics: Record<Sink, string[]> = s.sinkTopics ?? { dynamodb: [], opensearch: [] };
  if (!s.sinkTopics && s.sinks.length > 0) {
    const derived = derivableTopics(streamList);
    if (derived) topics = { dynamodb: derived, opensearch: derived };
    else if (streamList.length > 0) problems.push('sinkTopics is required: a stream watches a database or the whole deployment, so its topics are not known in advance');
  }
  for (const sink of SINKS) {
    if (enabled[sink] && topics[sink].length === 0) problems.push(`sinkTopics names no topic for the ${sink} sink`);
    for (const topic of topics[sink]) if (topic.includes('*')) problems.push(`sinkTopics: "${topic}": Lambda event sources read named topics only`);
  }
  // A batch that keeps failing must end in the on-failure destination, not retry until its records leave the topic:
  // with an on-failure queue, retries are bounded by default. Lambda applies a Kafka mapping's retry limit only in
  // provisioned mode, so bounded retries bring provisioned pollers (one poller group per stage, so the mappings share
  // event poller units). Without an on-failure destination, a bounded limit would discard the batch with no record of
  // it: then retries stay unlimited and the Errors alarm is what tells.
  const maxRetryAttempts = s.sinkMaxRetryAttempts ?? (s.sinkOnFailure === 'sqs' ? DEFAULT_SINK_RETRIES : -1);
  if (maxRetryAttempts !== -1 && s.sinkOnFailure !== 'sqs') {
    problems.push('sinkMaxRetryAttempts other than -1 needs sinkOnFailure "sqs": without an on-failure destination Lambda would discard the failing batch with no record of it');
  }
  const pollersGiven = s.sinkProvisionedPollers;
  const pollers = pollersGiven === 'none' ? [] : listOf(pollersGiven ?? (maxRetryAttempts !== -1 ? DEFAULT_PROVISIONED_POLLERS : undefined));
  let provisionedPollers: { min: number; max: number; group: string } | undefined;
  if (pollers.length > 0) {
    const [min, max] = pollers.map((value) => Number(value));
    if (pollers.length !== 2 || !Number.isInteger(min) || !Number.isInteger(max) || (min as number) < 1 || (max as number) > 2000 || (max as number) < (min as number)) {
      problems.push(`sinkProvisionedPollers is "<minimum>,<maximum>" pollers (1 to 2000), or "none"; got ${got(pollersGiven)}`);
    } else provisionedPollers = { min: min as number, max: max as number, group: `${service}-${stage}`.slice(0, 128) };
  }
  if (maxRetryAttempts !== -1 && !provisionedPollers) {
    problems.push('sinkMaxRetryAttempts needs sinkProvisionedPollers: Lambda applies Kafka retry limits in provisioned mode only');
  }

  // OpenSearch.
  const opensearch = {
    url: s.opensearchUrl,
    sigv4: s.opensearchSigv4Service,
    domainName: s.opensearchDomainName,
    collectionArn: s.opensearchCollectionArn,
    basicAuthSecretArn: s.opensearchBasicAuthSecretArn,
    indexTemplate: s.opensearchIndexTemplate,
    indexBody: s.opensearchIndexBody,
    bulkDocuments: s.opensearchBulkDocuments,
    bulkBytes: s.opensearchBulkBytes,
    bulkConcurrency: s.opensearchBulkConcurrency,
    retryBaseMs: s.opensearchRetryBaseMs,
    create: s.createOpenSearchDomain,
    instanceType: s.opensearchInstanceType,
    instanceCount: s.opensearchInstanceCount,
    volumeGiB: s.opensearchVolumeGiB,
  };
  if (enabled.opensearch) {
    if (s.createOpenSearchDomain) {
      if (opensearch.url) problems.push('give either opensearchUrl or createOpenSearchDomain, not both');
      if (opensearch.sigv4 !== 'es') problems.push('createOpenSearchDomain signs requests with IAM: opensearchSigv4Service must be "es"');
      if (!vpc) problems.push('createOpenSearchDomain places the domain in your VPC: give vpcSubnets and vpcSecurityGroups');
      opensearch.domainName = opensearch.domainName ?? `${service}-${stage}`.slice(0, 28).replace(/-+$/, '');
    } else if (!opensearch.url || !/^https?:\/\//.test(opensearch.url)) {
      problems.push('opensearchUrl is required for the opensearch sink (https://...), or set createOpenSearchDomain');
    }
    if (opensearch.sigv4 === 'es' && !opensearch.domainName) problems.push('opensearchDomainName is required with opensearchSigv4Service "es" (it scopes the sink\'s IAM policy)');
    if (opensearch.sigv4 === 'aoss' && !(opensearch.collectionArn && ARN.test(opensearch.collectionArn))) {
      problems.push('opensearchCollectionArn is required with opensearchSigv4Service "aoss"');
    }
  }

  // Functions, named as serverless names them.
  const functionNameOf = (key: string) => `${service}-${stage}-${key}`;
  const relays = streamList.map((stream) => {
    const key = `relay-${stream.id}`;
    if (functionNameOf(key).length > MAX_FUNCTION_NAME) {
      problems.push(`stream "${stream.id}": function name ${functionNameOf(key)} is longer than ${MAX_FUNCTION_NAME} characters; use a shorter id or stage`);
    }
    return { id: stream.id, key, functionName: functionNameOf(key), logicalName: normalizedFunctionName(key), uriVariable: stream.uriVariable, ...streamTopics(stream) };
  });
  const sinkFunction = (sink: Sink) => {
    const key = sink === 'dynamodb' ? 'sinkDynamodb' : 'sinkOpensearch';
    return { key, functionName: functionNameOf(key), logicalName: normalizedFunctionName(key) };
  };

  if (problems.length > 0) throw new DeploySettingsError(stage, problems);
  return {
    service,
    stage,
    streamsJson: JSON.stringify(s.streams?.raw),
    relays,
    secrets: [...new Set(streamList.map((stream) => stream.uriVariable))].map((variable) => ({ variable, secret: secretFor[variable] as string })),
    kafka: {
      source,
      auth,
      brokers: brokers.join(','),
      secretArn: s.kafkaSecretArn,
      secretKmsKeyArn: s.kafkaSecretKmsKeyArn,
      maxMessageBytes: s.kafkaMaxMessageBytes === undefined ? undefined : String(s.kafkaMaxMessageBytes),
      allowTopicCreation: s.allowTopicCreation,
      msk,
      // Without brokers (MSK Serverless on its first deploy) nothing can connect yet: schedules and event sources
      // are deployed disabled until a second deploy passes kafkaBrokers.
      ready: brokers.length > 0,
    },
    vpc,
    relay: {
      schedule: s.relaySchedule,
      memorySize: s.relayMemorySize,
      timeout: s.relayTimeout,
      safetyMarginMs: s.relaySafetyMarginMs,
      readThread: s.relayReadThread,
      snapshotReadThread: s.relaySnapshotReadThread,
    },
    sinks: {
      enabled,
      topics,
      functions: { dynamodb: sinkFunction('dynamodb'), opensearch: sinkFunction('opensearch') },
      topicPrefix: s.topicPrefix,
      deadLetterTopic: s.sinkDeadLetterTopic ?? `${s.topicPrefix}.sink-dead-letter`,
      batchSize: s.sinkBatchSize,
      batchingWindowSeconds: s.sinkBatchingWindowSeconds,
      startingPosition: s.sinkStartingPosition,
      memorySize: s.sinkMemorySize,
      timeout: s.sinkTimeout,
      onFailure: s.sinkOnFailure,
      maxRetryAttempts,
      provisionedPollers,
      eventSourcesEnabled: s.sinkEventSourcesEnabled,
      consumerGroupPrefix: `${service}-${stage}`,
      tombstoneTtlSeconds: String(s.tombstoneTtlSeconds),
      dynamodbConcurrency: s.sinkDynamodbConcurrency,
      dynamodbMaxAttempts: s.sinkDynamodbMaxAttempts,
    },
    reportingTable: { billingMode: s.reportingTableBillingMode, readCapacity: s.reportingTableReadCapacity, writeCapacity: s.reportingTableWriteCapacity },
    opensearch,
    alarms: {
      email: s.alarmEmail,
      topicArn: s.alarmTopicArn,
      lagSeconds: s.alarmLagSeconds,
      checkpointAgeSeconds: s.alarmCheckpointAgeSeconds,
      sinkLatencySeconds: s.alarmSinkLatencySeconds,
    },
    // Per stage, so two stages in one account never share (or trip each other's) alarms.
    metricsNamespace: s.metricsNamespace ?? `MongoCdc/${stage}`,
    logRetentionInDays: s.logRetentionInDays,
    logLevel: s.logLevel,
  };
}

export type DeployConfig = ReturnType<typeof buildConfig>;
