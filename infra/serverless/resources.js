// CloudFormation resources that depend on the settings (config.js): one IAM role per function with only what that
// function does, the sinks' Kafka event source mappings with their on-failure queue, the reporting table, alarms and
// a dashboard, and optionally an MSK Serverless cluster and an OpenSearch domain.
'use strict';

const { createHash } = require('node:crypto');
const { loadConfig } = require('./config');

const RELAY_SERVICE = 'mongo-cdc-relay';
const SINK_SERVICE = { dynamodb: 'mongo-cdc-sink-dynamodb', opensearch: 'mongo-cdc-sink-opensearch' };

const sub = (text) => ({ 'Fn::Sub': text });
const getAtt = (resource, attribute) => ({ 'Fn::GetAtt': [resource, attribute] });
const ref = (resource) => ({ Ref: resource });
const allow = (Action, Resource, Condition) => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });

/** A stable logical-id fragment for a Kafka topic: readable, and unique even when two topics clean up alike. */
function topicId(topic) {
  const readable = topic.replace(/[^A-Za-z0-9]+(.)?/g, (_, next) => (next ? next.toUpperCase() : '')).replace(/^./, (first) => first.toUpperCase());
  return `${readable.slice(0, 100)}${createHash('sha256').update(topic).digest('hex').slice(0, 6)}`;
}

function secretArn(nameOrArn) {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  // Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
  return sub(`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${nameOrArn}-??????`);
}

/** MSK IAM resource ARNs (cluster, topic, group) of the configured or created cluster. */
function mskArns(config) {
  const { msk } = config.kafka;
  if (!msk) return undefined;
  const base = (kind) =>
    msk.created
      ? `arn:\${AWS::Partition}:kafka:\${AWS::Region}:\${AWS::AccountId}:${kind}/${msk.name}/*`
      : `arn:${msk.partition}:kafka:${msk.region}:${msk.account}:${kind}/${msk.name}/${msk.uuid}`;
  return {
    // The created cluster's UUID is known only after creation: its ARNs are scoped by its (stage-unique) name.
    cluster: msk.created ? getAtt('MskServerlessCluster', 'Arn') : msk.arn,
    topic: (topic) => sub(`${base('topic')}/${topic}`),
    group: (group) => sub(`${base('group')}/${group}`),
    clusterForData: msk.created ? sub(base('cluster')) : msk.arn,
  };
}

function logStatement(fn) {
  // serverless creates each function's log group; the role may only write into its own.
  return allow(['logs:CreateLogStream', 'logs:PutLogEvents'], sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${fn.functionName}:*`));
}

/**
 * ENI management for a function in a VPC (and for the event source mapping's pollers). The only statement with a "*"
 * resource: the ec2:Describe* actions support no resource-level permissions at all, and Lambda creates and deletes
 * the function's network interfaces, whose ids do not exist when the policy is written (this is the same set as the
 * AWSLambdaVPCAccessExecutionRole managed policy, plus the Describe calls the Kafka pollers make).
 */
function vpcStatement() {
  return allow(
    [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
      'ec2:DescribeSubnets',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeVpcs',
    ],
    '*',
  );
}

// No RoleName: IAM names are global to the account, and CloudFormation's generated ones never collide across stages
// or regions.
function role(statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [{ PolicyName: 'least-privilege', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

function producerStatements(config, topics) {
  const arns = mskArns(config);
  if (!arns || config.kafka.auth !== 'iam') return [];
  const topicActions = ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'];
  if (config.kafka.allowTopicCreation) topicActions.push('kafka-cluster:CreateTopic');
  return [
    // WriteDataIdempotently: the functions produce with KafkaJS's idempotent producer.
    allow(['kafka-cluster:Connect', 'kafka-cluster:DescribeCluster', 'kafka-cluster:WriteDataIdempotently'], arns.clusterForData),
    allow(topicActions, topics.map((topic) => arns.topic(topic))),
  ];
}

/** The SASL/SCRAM secret, read by whoever connects with it (KAFKA_SASL_SECRET, and the sinks' pollers). */
function scramSecretStatements(config) {
  const { kafka } = config;
  if (!kafka.auth.startsWith('scram')) return [];
  return [
    allow('secretsmanager:GetSecretValue', kafka.secretArn),
    // MSK requires SCRAM secrets encrypted with a customer managed key, which the reader must be able to use.
    ...(kafka.secretKmsKeyArn ? [allow('kms:Decrypt', kafka.secretKmsKeyArn)] : []),
  ];
}

function relayRole(config, relay) {
  const statements = [
    logStatement(relay),
    // Its own stream's item only: a relay cannot read or move another stream's checkpoint.
    allow(['dynamodb:GetItem', 'dynamodb:UpdateItem'], getAtt('ControlTable', 'Arn'), {
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [relay.id] },
    }),
    allow('secretsmanager:GetSecretValue', secretArn(config.secrets.find((entry) => entry.variable === relay.uriVariable).secret)),
    ...producerStatements(config, [...relay.topics, relay.deadLetterTopic]),
    ...scramSecretStatements(config),
  ];
  if (config.vpc) statements.push(vpcStatement());
  return role(statements);
}

function sinkRole(config, sink) {
  const fn = config.sinks.functions[sink];
  const { kafka, sinks } = config;
  const topics = sinks.topics[sink];
  const consumerGroup = `${sinks.consumerGroupPrefix}-${sink}`;
  const statements = [logStatement(fn)];
  if (sink === 'dynamodb') statements.push(allow('dynamodb:PutItem', getAtt('ReportingTable', 'Arn')));
  if (sink === 'opensearch') {
    const { opensearch } = config;
    if (opensearch.sigv4 === 'es') {
      // HEAD/PUT: create an index on first write; POST: _bulk.
      statements.push(
        allow(['es:ESHttpHead', 'es:ESHttpPut', 'es:ESHttpPost'], sub(`arn:\${AWS::Partition}:es:\${AWS::Region}:\${AWS::AccountId}:domain/${opensearch.domainName}/*`)),
      );
    }
    if (opensearch.sigv4 === 'aoss') statements.push(allow('aoss:APIAccessAll', opensearch.collectionArn));
    // Basic-auth credentials are read at the first request (OPENSEARCH_BASIC_AUTH_SECRET).
    if (opensearch.basicAuthSecretArn) statements.push(allow('secretsmanager:GetSecretValue', opensearch.basicAuthSecretArn));
  }

  // What the event source mapping's pollers do with the function's role.
  const arns = mskArns(config);
  if (kafka.source === 'msk') {
    statements.push(allow(['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'], arns.cluster));
    if (kafka.auth === 'iam') {
      statements.push(
        allow(['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'], arns.clusterForData),
        allow(['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], topics.map((topic) => arns.topic(topic))),
        allow(['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], arns.group(consumerGroup)),
      );
    }
  }
  // The pollers read it for the event source mapping, and the function for its dead-letter producer.
  statements.push(...scramSecretStatements(config));
  if (sinks.onFailure === 'sqs') statements.push(allow('sqs:SendMessage', getAtt('SinkOnFailureQueue', 'Arn')));

  // The dead-letter producer.
  statements.push(...producerStatements(config, [sinks.deadLetterTopic]));
  if (config.vpc) statements.push(vpcStatement());
  return role(statements);
}

function eventSourceMappings(config, sink) {
  const { kafka, sinks, vpc } = config;
  const fn = sinks.functions[sink];
  const consumerGroup = `${sinks.consumerGroupPrefix}-${sink}`;
  const resources = {};
  for (const topic of sinks.topics[sink]) {
    const properties = {
      FunctionName: ref(`${fn.logicalName}LambdaFunction`),
      Topics: [topic],
      StartingPosition: sinks.startingPosition,
      BatchSize: sinks.batchSize,
      MaximumBatchingWindowInSeconds: sinks.batchingWindowSeconds,
      Enabled: sinks.eventSourcesEnabled && kafka.ready,
    };
    const access = [];
    if (kafka.source === 'msk') {
      properties.EventSourceArn = mskArns(config).cluster;
      properties.AmazonManagedKafkaEventSourceConfig = { ConsumerGroupId: consumerGroup };
    } else {
      properties.SelfManagedEventSource = { Endpoints: { KafkaBootstrapServers: kafka.brokers.split(',') } };
      properties.SelfManagedKafkaEventSourceConfig = { ConsumerGroupId: consumerGroup };
      if (vpc) {
        for (const subnet of vpc.subnetIds) access.push({ Type: 'VPC_SUBNET', URI: `subnet:${subnet}` });
        for (const group of vpc.securityGroupIds) access.push({ Type: 'VPC_SECURITY_GROUP', URI: `security_group:${group}` });
      }
    }
    if (kafka.auth === 'scram-sha-512') access.push({ Type: 'SASL_SCRAM_512_AUTH', URI: kafka.secretArn });
    if (kafka.auth === 'scram-sha-256') access.push({ Type: 'SASL_SCRAM_256_AUTH', URI: kafka.secretArn });
    if (access.length > 0) properties.SourceAccessConfigurations = access;
    if (sinks.onFailure === 'sqs') properties.DestinationConfig = { OnFailure: { Destination: getAtt('SinkOnFailureQueue', 'Arn') } };
    if (sinks.provisionedPollers) {
      properties.ProvisionedPollerConfig = {
        MinimumPollers: sinks.provisionedPollers.min,
        MaximumPollers: sinks.provisionedPollers.max,
        // The stage's mappings share event poller units instead of each holding its own.
        PollerGroupName: sinks.provisionedPollers.group,
      };
      properties.MaximumRetryAttempts = sinks.maxRetryAttempts;
    }
    resources[`${fn.logicalName}EventSource${topicId(topic)}`] = {
      Type: 'AWS::Lambda::EventSourceMapping',
      // The pollers check the role's permissions when the mapping is created.
      DependsOn: [`${fn.logicalName}Role`],
      Properties: properties,
    };
  }
  return resources;
}

function reportingTable(config) {
  const table = config.reportingTable;
  return {
    Type: 'AWS::DynamoDB::Table',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      TableName: `${config.service}-${config.stage}-reporting`,
      BillingMode: table.billingMode,
      ...(table.billingMode === 'PROVISIONED'
        ? { ProvisionedThroughput: { ReadCapacityUnits: table.readCapacity, WriteCapacityUnits: table.writeCapacity } }
        : {}),
      AttributeDefinitions: [{ AttributeName: '_key', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: '_key', KeyType: 'HASH' }],
      // Delete tombstones carry _expiresAt (SINK_TOMBSTONE_TTL_SECONDS) so they are purged once no late update can come.
      TimeToLiveSpecification: { AttributeName: '_expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    },
  };
}

// ---- Alarms ---------------------------------------------------------------------------------------------------

/**
 * One alarm. `dimensions` must be exactly the set the code emits the metric with (Powertools adds "service" to the
 * default dimensions): an alarm whose dimensions differ watches a metric that never receives data.
 */
function alarm(config, name, description, metric, condition) {
  const topic = config.alarms.topicArn ?? ref('AlarmTopic');
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${config.service}-${config.stage}-${name}`,
      AlarmDescription: `${description} Runbook: docs/operations.md, "Deploy to AWS" > "Runbook" > ${condition.runbook}.`,
      Namespace: metric.namespace,
      MetricName: metric.name,
      Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
      Statistic: condition.statistic,
      Period: condition.period,
      EvaluationPeriods: condition.evaluationPeriods,
      DatapointsToAlarm: condition.datapointsToAlarm ?? condition.evaluationPeriods,
      Threshold: condition.threshold,
      ComparisonOperator: condition.comparison ?? 'GreaterThanOrEqualToThreshold',
      TreatMissingData: condition.missing ?? 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    },
  };
}

const anyInFiveMinutes = (runbook) => ({ statistic: 'Sum', period: 300, evaluationPeriods: 1, threshold: 1, runbook });
// Two of three five-minute periods: one transient failure that the next invocation repairs does not page anyone.
const persistentFailures = (runbook) => ({ statistic: 'Sum', period: 300, evaluationPeriods: 3, datapointsToAlarm: 2, threshold: 1, runbook });

function functionAlarms(config, fn, prefix) {
  const lambdaMetric = (name) => ({ namespace: 'AWS/Lambda', name, dimensions: { FunctionName: fn.functionName } });
  return {
    [`${fn.logicalName}ErrorsAlarm`]: alarm(config, `${prefix}-errors`, `${fn.functionName} invocations fail.`, lambdaMetric('Errors'), persistentFailures('Function errors')),
    [`${fn.logicalName}ThrottlesAlarm`]: alarm(config, `${prefix}-throttles`, `${fn.functionName} invocations are throttled.`, lambdaMetric('Throttles'), persistentFailures('Function throttles')),
  };
}

function relayAlarms(config, relay) {
  const metric = (name) => ({ namespace: config.metricsNamespace, name, dimensions: { service: RELAY_SERVICE, StreamId: relay.id } });
  const prefix = `relay-${relay.id}`;
  const { alarms } = config;
  return {
    [`${relay.logicalName}LagAlarm`]: alarm(
      config,
      `${prefix}-lag`,
      `Stream ${relay.id}: events reach Kafka more than ${alarms.lagSeconds} s after their commit.`,
      metric('LagSeconds'),
      { statistic: 'Maximum', period: 60, evaluationPeriods: 5, datapointsToAlarm: 3, threshold: alarms.lagSeconds, comparison: 'GreaterThanThreshold', runbook: 'Relay lag' },
    ),
    // Every invocation that ends normally reports how long ago it last saved the checkpoint. No data at all means no
    // invocation ended normally (failing, stopped, or not running): that breaches too.
    [`${relay.logicalName}CheckpointAgeAlarm`]: alarm(
      config,
      `${prefix}-checkpoint-age`,
      `Stream ${relay.id}: the checkpoint is older than ${alarms.checkpointAgeSeconds} s, or no relay run has completed for 15 minutes.`,
      metric('CheckpointAgeSeconds'),
      { statistic: 'Maximum', period: 300, evaluationPeriods: 3, threshold: alarms.checkpointAgeSeconds, comparison: 'GreaterThanThreshold', missing: 'breaching', runbook: 'Checkpoint age' },
    ),
    [`${relay.logicalName}StalledAlarm`]: alarm(
      config,
      `${prefix}-stalled`,
      `Stream ${relay.id} is stalled: its resume point has left the oplog. Nothing is relayed until an operator resets it; then re-snapshot it (npx mongo-cdc snapshot ${relay.id}) so the stores get every document again.`,
      metric('StreamStalled'),
      anyInFiveMinutes('Stream stalled'),
    ),
    [`${relay.logicalName}DeadLetteredAlarm`]: alarm(
      config,
      `${prefix}-dead-lettered`,
      `Stream ${relay.id}: events too large for Kafka went to ${relay.deadLetterTopic}.`,
      metric('EventsDeadLettered'),
      anyInFiveMinutes('Relay dead letters'),
    ),
    ...functionAlarms(config, relay, prefix),
  };
}

function sinkAlarms(config, sink) {
  const fn = config.sinks.functions[sink];
  const metric = (name) => ({ namespace: config.metricsNamespace, name, dimensions: { service: SINK_SERVICE[sink], Sink: sink } });
  const prefix = `sink-${sink}`;
  return {
    [`${fn.logicalName}StoreErrorsAlarm`]: alarm(config, `${prefix}-store-errors`, `The ${sink} sink cannot write its store; batches are retried.`, metric('StoreErrors'), persistentFailures('Sink store errors')),
    [`${fn.logicalName}DeadLetteredAlarm`]: alarm(
      config,
      `${prefix}-dead-lettered`,
      `The ${sink} sink dead-lettered records to ${config.sinks.deadLetterTopic}.`,
      metric('DeadLettered'),
      anyInFiveMinutes('Sink dead letters'),
    ),
    [`${fn.logicalName}DeadLetterErrorsAlarm`]: alarm(
      config,
      `${prefix}-dead-letter-errors`,
      `The ${sink} sink cannot write its dead-letter topic; batches are retried.`,
      metric('DeadLetterErrors'),
      persistentFailures('Sink dead-letter errors'),
    ),
    [`${fn.logicalName}LatencyAlarm`]: alarm(
      config,
      `${prefix}-latency`,
      `The ${sink} sink applies changes more than ${config.alarms.sinkLatencySeconds} s after their commit.`,
      metric('ApplyLatency'),
      { statistic: 'Maximum', period: 60, evaluationPeriods: 5, datapointsToAlarm: 3, threshold: config.alarms.sinkLatencySeconds * 1000, comparison: 'GreaterThanThreshold', runbook: 'Sink latency' },
    ),
    ...functionAlarms(config, fn, prefix),
  };
}

function onFailureAlarm(config) {
  return alarm(
    config,
    'sink-on-failure',
    'A sink batch was given up by its Kafka event source and recorded in the on-failure queue.',
    { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: getAtt('SinkOnFailureQueue', 'QueueName') } },
    { statistic: 'Maximum', period: 300, evaluationPeriods: 1, threshold: 1, runbook: 'Sink on-failure queue' },
  );
}

// ---- Dashboard ------------------------------------------------------------------------------------------------

function dashboard(config) {
  const widgets = [];
  let y = 0;
  const add = (title, metrics, options = {}) => {
    widgets.push({
      type: 'metric',
      x: (widgets.length % 3) * 8,
      y,
      width: 8,
      height: 6,
      properties: { title, region: '${AWS::Region}', view: 'timeSeries', stat: options.stat ?? 'Sum', period: 60, metrics },
    });
    if (widgets.length % 3 === 0) y += 6;
  };
  const ns = config.metricsNamespace;
  for (const relay of config.relays) {
    const dims = ['service', RELAY_SERVICE, 'StreamId', relay.id];
    add(`Relay ${relay.id}: events relayed / dead-lettered`, [[ns, 'EventsRelayed', ...dims], [ns, 'EventsDeadLettered', ...dims], [ns, 'EventsTrimmed', ...dims]]);
    add(`Relay ${relay.id}: lag and checkpoint age (s)`, [[ns, 'LagSeconds', ...dims], [ns, 'CheckpointAgeSeconds', ...dims]], { stat: 'Maximum' });
    add(`Relay ${relay.id}: errors and stalls`, [
      [ns, 'KafkaProduceErrors', ...dims],
      [ns, 'MongoErrors', ...dims],
      [ns, 'RelayErrors', ...dims],
      [ns, 'StreamStalled', ...dims],
      [ns, 'LeaseLost', ...dims],
      ['AWS/Lambda', 'Errors', 'FunctionName', relay.functionName],
      ['AWS/Lambda', 'Throttles', 'FunctionName', relay.functionName],
    ]);
    // A running snapshot: documents copied per minute, and the estimate of what is left (0 once it finished).
    add(`Relay ${relay.id}: snapshot copied / remaining`, [
      [ns, 'SnapshotDocuments', ...dims],
      [ns, 'SnapshotRemaining', ...dims, { stat: 'Minimum', yAxis: 'right' }],
    ]);
  }
  for (const sink of ['dynamodb', 'opensearch']) {
    if (!config.sinks.enabled[sink]) continue;
    const fn = config.sinks.functions[sink];
    const dims = ['service', SINK_SERVICE[sink], 'Sink', sink];
    add(`Sink ${sink}: applied / stale / dead-lettered`, [[ns, 'EventsApplied', ...dims], [ns, 'StaleSkipped', ...dims], [ns, 'DeadLettered', ...dims], [ns, 'UpdatesWithoutDocument', ...dims]]);
    add(`Sink ${sink}: apply latency (ms)`, [[ns, 'ApplyLatency', ...dims]], { stat: 'Maximum' });
    add(`Sink ${sink}: errors`, [
      [ns, 'StoreErrors', ...dims],
      [ns, 'DeadLetterErrors', ...dims],
      ['AWS/Lambda', 'Errors', 'FunctionName', fn.functionName],
      ['AWS/Lambda', 'Throttles', 'FunctionName', fn.functionName],
    ]);
  }
  if (config.sinks.onFailure === 'sqs' && (config.sinks.enabled.dynamodb || config.sinks.enabled.opensearch)) {
    add('Sink on-failure queue: batches given up', [['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', '${SinkOnFailureQueue.QueueName}']], { stat: 'Maximum' });
  }
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: `${config.service}-${config.stage}`,
      // ${...} are filled in by CloudFormation; the body has no other "${".
      DashboardBody: sub(JSON.stringify({ widgets })),
    },
  };
}

// ---- Optional infrastructure ----------------------------------------------------------------------------------

function mskServerlessCluster(config) {
  return {
    Type: 'AWS::MSK::ServerlessCluster',
    // Topics and their data live here; tearing the stack down must not delete them by surprise.
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      ClusterName: config.kafka.msk.name,
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [{ SubnetIds: config.vpc.subnetIds, SecurityGroups: config.vpc.securityGroupIds }],
    },
  };
}

function openSearchDomain(config) {
  const { opensearch, vpc } = config;
  const zoneAware = opensearch.instanceCount > 1 && vpc.subnetIds.length > 1;
  return {
    Type: 'AWS::OpenSearchService::Domain',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      DomainName: opensearch.domainName,
      EngineVersion: 'OpenSearch_2.19',
      ClusterConfig: {
        InstanceType: opensearch.instanceType,
        InstanceCount: opensearch.instanceCount,
        ...(zoneAware ? { ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } } : {}),
      },
      EBSOptions: { EBSEnabled: true, VolumeType: 'gp3', VolumeSize: opensearch.volumeGiB },
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
      // One subnet per availability zone the domain spans.
      VPCOptions: { SubnetIds: vpc.subnetIds.slice(0, zoneAware ? 2 : 1), SecurityGroupIds: vpc.securityGroupIds },
      AccessPolicies: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: getAtt(`${config.sinks.functions.opensearch.logicalName}Role`, 'Arn') },
            Action: ['es:ESHttpHead', 'es:ESHttpPut', 'es:ESHttpPost'],
            Resource: sub(`arn:\${AWS::Partition}:es:\${AWS::Region}:\${AWS::AccountId}:domain/${opensearch.domainName}/*`),
          },
        ],
      },
    },
  };
}

function build(config) {
  const Resources = {};
  const Outputs = {};
  const sinksOn = ['dynamodb', 'opensearch'].filter((sink) => config.sinks.enabled[sink]);

  if (!config.alarms.topicArn) {
    // Not encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key.
    Resources.AlarmTopic = { Type: 'AWS::SNS::Topic', Properties: { TopicName: `${config.service}-${config.stage}-alarms` } };
    if (config.alarms.email) {
      Resources.AlarmEmailSubscription = {
        Type: 'AWS::SNS::Subscription',
        Properties: { TopicArn: ref('AlarmTopic'), Protocol: 'email', Endpoint: config.alarms.email },
      };
    }
  }

  for (const relay of config.relays) {
    Resources[`${relay.logicalName}Role`] = relayRole(config, relay);
    Object.assign(Resources, relayAlarms(config, relay));
    Outputs[`${relay.logicalName}FunctionName`] = { Description: `Relay of stream ${relay.id}`, Value: relay.functionName };
    Outputs[`${relay.logicalName}RoleArn`] = { Value: getAtt(`${relay.logicalName}Role`, 'Arn') };
  }

  if (sinksOn.length > 0 && config.sinks.onFailure === 'sqs') {
    Resources.SinkOnFailureQueue = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: `${config.service}-${config.stage}-sink-on-failure`,
        // The longest SQS allows: records of given-up batches (topic, partition, offsets) to re-drive from.
        MessageRetentionPeriod: 1209600,
        SqsManagedSseEnabled: true,
      },
    };
    Resources.SinkOnFailureAlarm = onFailureAlarm(config);
    Outputs.SinkOnFailureQueueUrl = { Value: ref('SinkOnFailureQueue') };
  }
  for (const sink of sinksOn) {
    const fn = config.sinks.functions[sink];
    Resources[`${fn.logicalName}Role`] = sinkRole(config, sink);
    Object.assign(Resources, eventSourceMappings(config, sink), sinkAlarms(config, sink));
    Outputs[`${fn.logicalName}FunctionName`] = { Value: fn.functionName };
    // For OpenSearch fine-grained access control or an OpenSearch Serverless data access policy.
    Outputs[`${fn.logicalName}RoleArn`] = { Value: getAtt(`${fn.logicalName}Role`, 'Arn') };
  }
  if (config.sinks.enabled.dynamodb) {
    Resources.ReportingTable = reportingTable(config);
    Outputs.ReportingTableName = { Value: ref('ReportingTable') };
  }
  if (config.kafka.msk?.created) {
    Resources.MskServerlessCluster = mskServerlessCluster(config);
    Outputs.MskClusterArn = { Value: getAtt('MskServerlessCluster', 'Arn') };
  }
  if (config.sinks.enabled.opensearch && config.opensearch.create) {
    Resources.OpenSearchDomain = openSearchDomain(config);
    Outputs.OpenSearchEndpoint = { Value: sub('https://${OpenSearchDomain.DomainEndpoint}') };
  }
  Resources.Dashboard = dashboard(config);
  Outputs.ControlTableName = { Value: ref('ControlTable') };
  Outputs.AlarmTopicArn = { Value: config.alarms.topicArn ?? ref('AlarmTopic') };
  Outputs.DashboardName = { Value: ref('Dashboard') };
  return { Resources, Outputs };
}

module.exports = async ({ resolveVariable }) => build(await loadConfig(resolveVariable));
module.exports.build = build;
