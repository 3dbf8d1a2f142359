import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createMetrics } from '../../shared/metrics';
import {
  type CfnResource,
  type CfnTemplate,
  extractZip,
  offlineEnvironment,
  packagedFunctions,
  readTemplate,
  timeModuleInit,
} from '../package-inspection';
import type { ScenarioName } from './package-setup';

/**
 * What `serverless deploy` would create, read from the CloudFormation template `serverless package` wrote for each
 * scenario (package-setup.ts): triggers, least-privilege roles, environment, VPC wiring, alarms and the dashboard,
 * and the packages themselves (size, and that each handler initialises with the environment it is given).
 */

const root = resolve(__dirname, '..', '..');
const MSK_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/mongo-cdc/example-1';
const MSK_DATA = (kind: string, name: string) => `arn:aws:kafka:us-east-1:123456789012:${kind}/mongo-cdc/example-1/${name}`;

type Json = Record<string, unknown>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

const templates = {} as Record<ScenarioName, CfnTemplate>;
beforeAll(() => {
  const packages = inject('templatePackages');
  for (const name of Object.keys(packages) as ScenarioName[]) templates[name] = readTemplate(packages[name]);
});

function ofType(template: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}
function props(template: CfnTemplate, logicalId: string): Json {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId}; have ${Object.keys(template.Resources).join(', ')}`);
  return resource.Properties ?? {};
}
function statements(template: CfnTemplate, roleId: string): Statement[] {
  const policies = props(template, roleId).Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>;
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}
const actionsOf = (statement: Statement) => [statement.Action].flat();
const resourcesOf = (statement: Statement) => [statement.Resource].flat();
/** The statements granting an action, and the resources they grant it on. */
function grants(template: CfnTemplate, roleId: string, action: string): unknown[] {
  return statements(template, roleId)
    .filter((statement) => actionsOf(statement).includes(action))
    .flatMap(resourcesOf);
}
const subText = (value: unknown) => (value as { 'Fn::Sub': string })['Fn::Sub'];
function environment(template: CfnTemplate, functionId: string): Json {
  return ((props(template, functionId).Environment as { Variables: Json }).Variables ?? {}) as Json;
}
function esms(template: CfnTemplate, functionId: string): Json[] {
  return ofType(template, 'AWS::Lambda::EventSourceMapping')
    .map(([, resource]) => resource.Properties ?? {})
    .filter((properties) => (properties.FunctionName as { Ref: string }).Ref === functionId);
}

// The ENI actions Lambda needs for a function (and its Kafka pollers) in a VPC. ec2:Describe* support no resource-level
// permissions, and the network interfaces Lambda creates and deletes have no ids when the policy is written: the only
// statement allowed a "*" resource.
const ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeVpcs',
];

describe.each(['mskIam', 'selfManagedScram', 'createdInfrastructure'] as const)('every scenario: %s', (scenario) => {
  it('gives each function its own role, and no role a wildcard action or an unscoped resource beyond ENI management', () => {
    const template = templates[scenario];
    const functions = ofType(template, 'AWS::Lambda::Function');
    const roleIds = functions.map(([, fn]) => String((fn.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.['Fn::GetAtt'][0]));
    expect(new Set(roleIds).size).toBe(functions.length);
    // No role serverless would create and share.
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    expect(ofType(template, 'AWS::IAM::Role').map(([id]) => id).sort()).toEqual([...roleIds].sort());
    for (const [id] of ofType(template, 'AWS::IAM::Role')) {
      for (const statement of statements(template, id)) {
        expect(statement.Effect).toBe('Allow');
        for (const action of actionsOf(statement)) expect(action, `${id}: ${action}`).not.toContain('*');
        if (resourcesOf(statement).includes('*')) expect(actionsOf(statement), id).toEqual(ENI_ACTIONS);
        for (const resource of resourcesOf(statement)) {
          if (typeof resource === 'string') expect(resource === '*' || resource.startsWith('arn:'), `${id}: ${resource}`).toBe(true);
        }
      }
    }
  });

  it('lets each function write only its own log group', () => {
    const template = templates[scenario];
    for (const [, fn] of ofType(template, 'AWS::Lambda::Function')) {
      const roleId = String((fn.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined)?.['Fn::GetAtt'][0]);
      const logGroups = grants(template, roleId, 'logs:PutLogEvents').map(subText);
      expect(logGroups).toEqual([`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${String(fn.Properties?.FunctionName)}:*`]);
    }
  });

  it('alarms on exactly the metric, namespace and dimension set the functions emit, and notifies the alarm topic', () => {
    const template = templates[scenario];
    const emitted = emittedMetrics(template);
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const [id, alarmResource] of alarms) {
      const alarm = alarmResource.Properties ?? {};
      const dimensions = Object.fromEntries((alarm.Dimensions as Array<{ Name: string; Value: unknown }>).map((d) => [d.Name, d.Value]));
      if (String(alarm.Namespace).startsWith('AWS/')) {
        if (alarm.Namespace === 'AWS/Lambda') {
          expect(Object.keys(dimensions)).toEqual(['FunctionName']);
          expect(functionNames(template), id).toContain(dimensions.FunctionName);
        }
      } else {
        const match = emitted.find(
          (metric) => metric.namespace === alarm.Namespace && metric.names.includes(String(alarm.MetricName)) && sameDimensions(metric.dimensions, dimensions),
        );
        expect(match, `${id}: ${String(alarm.Namespace)} ${String(alarm.MetricName)} ${JSON.stringify(dimensions)} is never emitted`).toBeDefined();
      }
      const topic = scenario === 'selfManagedScram' ? 'arn:aws:sns:eu-west-1:123456789012:oncall' : { Ref: 'AlarmTopic' };
      expect(alarm.AlarmActions, id).toEqual([topic]);
      expect(alarm.OKActions, id).toEqual([topic]);
    }
  });

  it('has a dashboard whose body is valid JSON charting only metrics that are emitted', () => {
    const template = templates[scenario];
    const [[, dashboard] = ['', undefined]] = ofType(template, 'AWS::CloudWatch::Dashboard');
    const body = subText(dashboard?.Properties?.DashboardBody).replace(/\$\{AWS::Region\}/g, 'us-east-1').replace(/\$\{[A-Za-z]+\.[A-Za-z]+\}/g, 'resolved');
    expect(body).not.toContain('${');
    // A metric is [namespace, name, dimension, value, ..., {rendering options}?].
    const parsed = JSON.parse(body) as { widgets: Array<{ properties: { title: string; metrics: Array<Array<string | object>> } }> };
    const emitted = emittedMetrics(template);
    expect(parsed.widgets.length).toBeGreaterThan(3);
    const relayIds = ofType(template, 'AWS::Lambda::Function').flatMap(([id]) => [String(environment(template, id).CDC_STREAM_ID ?? '')]).filter(Boolean);
    expect(relayIds.length).toBeGreaterThan(0);
    for (const streamId of relayIds) {
      const snapshotWidget = parsed.widgets.find((widget) => widget.properties.title === `Relay ${streamId}: snapshot copied / remaining`);
      expect(snapshotWidget?.properties.metrics.map((metric) => metric[1]), `snapshot widget of ${streamId}`).toEqual(['SnapshotDocuments', 'SnapshotRemaining']);
    }
    for (const metric of parsed.widgets.flatMap((widget) => widget.properties.metrics)) {
      const [namespace, name, ...pairs] = metric.filter((part): part is string => typeof part === 'string') as [string, string, ...string[]];
      if (namespace.startsWith('AWS/')) continue;
      const dimensions = Object.fromEntries(pairs.flatMap((value, index) => (index % 2 === 0 ? [[value, pairs[index + 1]]] : [])));
      expect(
        emitted.some((candidate) => candidate.namespace === namespace && candidate.names.includes(name) && sameDimensions(candidate.dimensions, dimensions)),
        `${namespace} ${name} ${JSON.stringify(dimensions)}`,
      ).toBe(true);
    }
  });

  it('keeps the control and reporting tables (point-in-time recovery on, retained on stack deletion)', () => {
    const template = templates[scenario];
    for (const id of ['ControlTable', 'ReportingTable']) {
      expect(template.Resources[id]?.DeletionPolicy).toBe('Retain');
      expect(props(template, id).PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(props(template, id).SSESpecification).toEqual({ SSEEnabled: true });
    }
    expect(props(template, 'ReportingTable').TimeToLiveSpecification).toEqual({ AttributeName: '_expiresAt', Enabled: true });
  });

  it('wires every function into the VPC subnets and security groups', () => {
    const template = templates[scenario];
    const fixture = {
      mskIam: { SubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'], SecurityGroupIds: ['sg-0a1b2c3d4e5f60003'] },
      selfManagedScram: { SubnetIds: ['subnet-0aaa0000000000001', 'subnet-0aaa0000000000002'], SecurityGroupIds: ['sg-0aaa0000000000003'] },
      createdInfrastructure: {
        SubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002', 'subnet-0bbb0000000000003'],
        SecurityGroupIds: ['sg-0bbb0000000000004'],
      },
    }[scenario];
    for (const [id, fn] of ofType(template, 'AWS::Lambda::Function')) expect(fn.Properties?.VpcConfig, id).toEqual(fixture);
  });
});

function functionNames(template: CfnTemplate): string[] {
  return ofType(template, 'AWS::Lambda::Function').map(([, fn]) => String(fn.Properties?.FunctionName));
}

function sameDimensions(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

/**
 * What the deployed functions would emit: the metric names each kind of function adds in its source, and the exact
 * dimension set Powertools writes for them (from a real EMF line), under the namespace the function is configured with.
 */
function emittedMetrics(template: CfnTemplate): Array<{ namespace: string; names: string[]; dimensions: Record<string, string> }> {
  // The first argument of each metrics.add(...): a name, or a conditional choosing between names.
  const namesIn = (file: string) =>
    [...readFileSync(join(root, file), 'utf8').matchAll(/metrics\.add\(([^;]*?), '(?:Count|Bytes|Seconds|Milliseconds)'/g)].flatMap((match) =>
      [...(match[1] ?? '').matchAll(/'([A-Za-z]+)'/g)].map((name) => name[1] ?? ''),
    );
  // Every relay module that adds metrics: the relay loop, the snapshot step, and the handler's missing-topic guard.
  const relayNames = ['functions/relay/relay-stream.ts', 'functions/relay/snapshot-step.ts', 'functions/relay/handler.ts'].flatMap(namesIn);
  const sinkNames = namesIn('shared/sink-runner.ts');
  const result: Array<{ namespace: string; names: string[]; dimensions: Record<string, string> }> = [];
  for (const [id, fn] of ofType(template, 'AWS::Lambda::Function')) {
    const env = environment(template, id);
    const handlerSource = readFileSync(join(root, `${String(fn.Properties?.Handler).replace(/\.handler$/, '')}.ts`), 'utf8');
    const call = /createMetrics\('([^']+)', \{ (\w+): (?:stream\.id|SINK) \}\)/.exec(handlerSource);
    if (!call) throw new Error(`cannot find the createMetrics call in ${String(fn.Properties?.Handler)}`);
    const [, serviceName = '', dimension = ''] = call;
    const value = dimension === 'StreamId' ? String(env.CDC_STREAM_ID) : (/const SINK = '(\w+)'/.exec(handlerSource)?.[1] ?? '');
    result.push({
      namespace: String(env.POWERTOOLS_METRICS_NAMESPACE),
      names: dimension === 'StreamId' ? relayNames : sinkNames,
      dimensions: emfDimensions(serviceName, { [dimension]: value }),
    });
  }
  return result;
}

function emfDimensions(serviceName: string, dimensions: Record<string, string>): Record<string, string> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.map(String).join(' ')));
  try {
    const metrics = createMetrics(serviceName, dimensions);
    metrics.add('Probe', 'Count', 1);
    metrics.flush();
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
  const emf = lines.map((line) => line.trim()).filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Json)[0];
  if (!emf) throw new Error('createMetrics wrote no EMF line');
  const declared = (emf._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> }).CloudWatchMetrics[0]?.Dimensions[0] ?? [];
  return Object.fromEntries(declared.map((name) => [name, String(emf[name])]));
}

describe('MSK with IAM auth in a VPC, both sinks, two streams (the package:check scenario)', () => {
  const template = () => templates.mskIam;

  it('runs one relay per stream on its schedule with its stream id, one at a time', () => {
    for (const stream of ['orders', 'customers']) {
      const fnId = `RelayDash${stream}LambdaFunction`;
      const fn = props(template(), fnId);
      expect(fn.FunctionName).toBe(`mongo-cdc-ci-relay-${stream}`);
      expect(fn.ReservedConcurrentExecutions).toBe(1);
      expect(fn.Timeout).toBe(70);
      expect(fn.MemorySize).toBe(512);
      const rule = props(template(), `RelayDash${stream}EventsRuleSchedule1`);
      expect(rule.ScheduleExpression).toBe('rate(1 minute)');
      expect(rule.State).toBe('ENABLED');
      const [target] = rule.Targets as Array<{ Input: string; Arn: unknown }>;
      expect(JSON.parse(target?.Input ?? '')).toEqual({ streamId: stream });
      expect(target?.Arn).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
      const env = environment(template(), fnId);
      expect(env).toMatchObject({
        CDC_STREAM_ID: stream,
        CONTROL_TABLE: { Ref: 'ControlTable' },
        MONGODB_URI_SECRET: 'mongo-cdc/ci/mongodb-uri',
        KAFKA_AUTH: 'iam',
        KAFKA_BROKERS: 'b-1.example.kafka.us-east-1.amazonaws.com:9098,b-2.example.kafka.us-east-1.amazonaws.com:9098',
        RELAY_SAFETY_MARGIN_MS: '12000',
        KAFKA_TOPIC_CREATION: 'require',
        POWERTOOLS_METRICS_NAMESPACE: 'MongoCdc/ci',
        NODE_OPTIONS: '--max-semi-space-size=4',
      });
      // Only its own stream, so it neither needs nor may read another stream's connection string.
      expect((JSON.parse(String(env.CDC_STREAMS)) as Array<{ id: string }>).map((entry) => entry.id)).toEqual([stream]);
      expect(env.KAFKA_SASL_PASSWORD).toBeUndefined();
    }
  });

  it("scopes a relay's role to its stream's checkpoint, its secret and the topics it writes", () => {
    const role = 'RelayDashordersRole';
    const checkpoint = statements(template(), role).filter((statement) => actionsOf(statement).some((action) => action.startsWith('dynamodb:')));
    expect(checkpoint).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': ['ControlTable', 'Arn'] },
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['orders'] } },
      },
    ]);
    expect(grants(template(), role, 'secretsmanager:GetSecretValue').map(subText)).toEqual([
      'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:mongo-cdc/ci/mongodb-uri-??????',
    ]);
    expect(grants(template(), role, 'kafka-cluster:WriteData').map(subText)).toEqual([
      MSK_DATA('topic', 'mongo-cdc.shop.orders'),
      MSK_DATA('topic', 'mongo-cdc.dead-letter'),
    ]);
    expect(grants(template(), 'RelayDashcustomersRole', 'kafka-cluster:WriteData').map(subText)).toEqual([
      MSK_DATA('topic', 'crm.shop.customers'),
      MSK_DATA('topic', 'crm.dead-letter'),
    ]);
    expect(grants(template(), role, 'kafka-cluster:WriteDataIdempotently')).toEqual([MSK_ARN]);
    for (const absent of ['kafka-cluster:CreateTopic', 'kafka-cluster:ReadData', 'dynamodb:PutItem', 'sqs:SendMessage']) {
      expect(grants(template(), role, absent), absent).toEqual([]);
    }
  });

  it('feeds each sink from every topic through an MSK event source whose failing batches end in the on-failure queue', () => {
    for (const [sink, fnId] of [
      ['dynamodb', 'SinkDynamodbLambdaFunction'],
      ['opensearch', 'SinkOpensearchLambdaFunction'],
    ] as const) {
      const mappings = esms(template(), fnId);
      expect(mappings.map((mapping) => mapping.Topics).sort()).toEqual([['crm.shop.customers'], ['mongo-cdc.shop.orders']]);
      for (const mapping of mappings) {
        expect(mapping).toMatchObject({
          EventSourceArn: MSK_ARN,
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: 500,
          MaximumBatchingWindowInSeconds: 1,
          Enabled: true,
          AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `mongo-cdc-ci-${sink}` },
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['SinkOnFailureQueue', 'Arn'] } } },
          // Bounded by default (a poison batch must not retry until its records leave the topic); Lambda applies a
          // Kafka retry limit in provisioned mode only, with the stage's mappings in one poller group.
          MaximumRetryAttempts: 10,
          ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 10, PollerGroupName: 'mongo-cdc-ci' },
        });
        // IAM auth: the pollers use the function's role, no secret.
        expect(mapping.SourceAccessConfigurations).toBeUndefined();
        expect(mapping.SelfManagedEventSource).toBeUndefined();
      }
      const role = fnId.replace('LambdaFunction', 'Role');
      expect(grants(template(), role, 'kafka-cluster:ReadData').map(subText).sort()).toEqual([
        MSK_DATA('topic', 'crm.shop.customers'),
        MSK_DATA('topic', 'mongo-cdc.shop.orders'),
      ]);
      expect(grants(template(), role, 'kafka-cluster:AlterGroup').map(subText)).toEqual([MSK_DATA('group', `mongo-cdc-ci-${sink}`)]);
      expect(grants(template(), role, 'kafka:GetBootstrapBrokers')).toEqual([MSK_ARN]);
      expect(grants(template(), role, 'kafka:DescribeClusterV2')).toEqual([MSK_ARN]);
      expect(grants(template(), role, 'kafka-cluster:WriteData').map(subText)).toEqual([MSK_DATA('topic', 'mongo-cdc.sink-dead-letter')]);
      expect(grants(template(), role, 'sqs:SendMessage')).toEqual([{ 'Fn::GetAtt': ['SinkOnFailureQueue', 'Arn'] }]);
      expect(grants(template(), role, 'dynamodb:GetItem')).toEqual([]);
    }
    expect(props(template(), 'SinkOnFailureQueue')).toMatchObject({ MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true });
  });

  it('lets the DynamoDB sink put items in the reporting table only, and the OpenSearch sink call its domain only', () => {
    expect(grants(template(), 'SinkDynamodbRole', 'dynamodb:PutItem')).toEqual([{ 'Fn::GetAtt': ['ReportingTable', 'Arn'] }]);
    expect(statements(template(), 'SinkDynamodbRole').flatMap(actionsOf).filter((action) => action.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']);
    expect(grants(template(), 'SinkOpensearchRole', 'es:ESHttpPost').map(subText)).toEqual([
      'arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/mongo-cdc-example/*',
    ]);
    expect(statements(template(), 'SinkOpensearchRole').flatMap(actionsOf).filter((action) => action.startsWith('es:')).sort()).toEqual([
      'es:ESHttpHead',
      'es:ESHttpPost',
      'es:ESHttpPut',
    ]);
    expect(statements(template(), 'SinkOpensearchRole').flatMap(actionsOf).some((action) => action.startsWith('dynamodb:'))).toBe(false);
    expect(environment(template(), 'SinkDynamodbLambdaFunction')).toMatchObject({
      REPORTING_TABLE: { Ref: 'ReportingTable' },
      SINK_TOPIC_PREFIX: 'mongo-cdc',
      SINK_DEAD_LETTER_TOPIC: 'mongo-cdc.sink-dead-letter',
      SINK_TOMBSTONE_TTL_SECONDS: '604800',
    });
    // Tuning left unset: the functions' own defaults apply.
    expect(environment(template(), 'SinkDynamodbLambdaFunction').SINK_DYNAMODB_CONCURRENCY).toBeUndefined();
    expect(environment(template(), 'SinkDynamodbLambdaFunction').SINK_DYNAMODB_MAX_ATTEMPTS).toBeUndefined();
    expect(environment(template(), 'SinkOpensearchLambdaFunction').SINK_RETRY_BASE_MS).toBeUndefined();
    expect(environment(template(), 'SinkOpensearchLambdaFunction').SINK_OPENSEARCH_BULK_DOCUMENTS).toBeUndefined();
    expect(environment(template(), 'SinkOpensearchLambdaFunction')).toMatchObject({
      OPENSEARCH_URL: 'https://vpc-mongo-cdc-example.us-east-1.es.amazonaws.com',
      OPENSEARCH_SIGV4_SERVICE: 'es',
    });
    expect(props(template(), 'ReportingTable').BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('has each alarm the runbook describes, and an SNS topic with the e-mail subscription', () => {
    const alarmOf = (id: string) => props(template(), id);
    expect(alarmOf('RelayDashordersLagAlarm')).toMatchObject({
      MetricName: 'LagSeconds',
      Namespace: 'MongoCdc/ci',
      Dimensions: [
        { Name: 'service', Value: 'mongo-cdc-relay' },
        { Name: 'StreamId', Value: 'orders' },
      ],
      Statistic: 'Maximum',
      Threshold: 300,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    // No completed run reports no checkpoint age: silence must page too.
    expect(alarmOf('RelayDashordersCheckpointAgeAlarm')).toMatchObject({ MetricName: 'CheckpointAgeSeconds', Threshold: 600, TreatMissingData: 'breaching' });
    expect(alarmOf('RelayDashordersStalledAlarm')).toMatchObject({ MetricName: 'StreamStalled', Statistic: 'Sum', Threshold: 1 });
    expect(alarmOf('RelayDashordersDeadLetteredAlarm')).toMatchObject({ MetricName: 'EventsDeadLettered', Threshold: 1 });
    expect(alarmOf('RelayDashordersErrorsAlarm')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: 'mongo-cdc-ci-relay-orders' }] });
    expect(alarmOf('RelayDashordersThrottlesAlarm')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Throttles' });
    expect(alarmOf('SinkDynamodbStoreErrorsAlarm')).toMatchObject({
      MetricName: 'StoreErrors',
      Dimensions: [
        { Name: 'service', Value: 'mongo-cdc-sink-dynamodb' },
        { Name: 'Sink', Value: 'dynamodb' },
      ],
    });
    expect(alarmOf('SinkOpensearchDeadLetteredAlarm')).toMatchObject({ MetricName: 'DeadLettered', Dimensions: [{ Name: 'service', Value: 'mongo-cdc-sink-opensearch' }, { Name: 'Sink', Value: 'opensearch' }] });
    expect(alarmOf('SinkOpensearchDeadLetterErrorsAlarm')).toMatchObject({ MetricName: 'DeadLetterErrors' });
    expect(alarmOf('SinkDynamodbLatencyAlarm')).toMatchObject({ MetricName: 'ApplyLatency', Threshold: 900_000 });
    expect(alarmOf('SinkOnFailureAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['SinkOnFailureQueue', 'QueueName'] } }],
    });
    // Per relay: lag, checkpoint age, stalled, dead letters, errors, throttles; per sink: store errors, dead letters,
    // dead-letter errors, latency, errors, throttles; and the on-failure queue.
    expect(ofType(template(), 'AWS::CloudWatch::Alarm')).toHaveLength(2 * 6 + 2 * 6 + 1);
    expect(props(template(), 'AlarmTopic').TopicName).toBe('mongo-cdc-ci-alarms');
    expect(props(template(), 'AlarmEmailSubscription')).toEqual({ TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe('stack outputs the runbook and the CLI refer to', () => {
  it('names the functions, tables, queue, topic, dashboard and the sink role', () => {
    const outputs = templates.mskIam.Outputs ?? {};
    expect(outputs.RelayDashordersFunctionName?.Value).toBe('mongo-cdc-ci-relay-orders');
    expect(outputs.ControlTableName?.Value).toEqual({ Ref: 'ControlTable' });
    expect(outputs.ReportingTableName?.Value).toEqual({ Ref: 'ReportingTable' });
    expect(outputs.SinkOnFailureQueueUrl?.Value).toEqual({ Ref: 'SinkOnFailureQueue' });
    expect(outputs.AlarmTopicArn?.Value).toEqual({ Ref: 'AlarmTopic' });
    expect(outputs.DashboardName?.Value).toEqual({ Ref: 'Dashboard' });
    expect(outputs.SinkOpensearchRoleArn?.Value).toEqual({ 'Fn::GetAtt': ['SinkOpensearchRole', 'Arn'] });
    expect(templates.createdInfrastructure.Outputs?.MskClusterArn?.Value).toEqual({ 'Fn::GetAtt': ['MskServerlessCluster', 'Arn'] });
  });
});

describe('self-managed Kafka with SASL/SCRAM, DynamoDB sink only (config file scenario)', () => {
  const template = () => templates.selfManagedScram;

  it('has no OpenSearch sink, and reads SCRAM credentials from Secrets Manager at run time, never from its configuration', () => {
    expect(template().Resources.SinkOpensearchLambdaFunction).toBeUndefined();
    expect(template().Resources.SinkOpensearchRole).toBeUndefined();
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mongo-cdc-AbCdEf';
    for (const fnId of ['RelayDashordersLambdaFunction', 'RelayDashanalyticsLambdaFunction', 'SinkDynamodbLambdaFunction']) {
      const env = environment(template(), fnId);
      expect(env).toMatchObject({ KAFKA_AUTH: 'scram-sha-512', KAFKA_SASL_SECRET: secret });
      expect([env.KAFKA_SASL_USERNAME, env.KAFKA_SASL_PASSWORD]).toEqual([undefined, undefined]);
      expect(JSON.stringify(env)).not.toContain('{{resolve:');
    }
  });

  it('gives the stream with its own connection variable its own secret, and relays on the configured schedule and size', () => {
    const env = environment(template(), 'RelayDashanalyticsLambdaFunction');
    expect(env.ANALYTICS_MONGODB_URI_SECRET).toBe('analytics/mongodb-uri');
    expect(env.MONGODB_URI_SECRET).toBeUndefined();
    expect(grants(template(), 'RelayDashanalyticsRole', 'secretsmanager:GetSecretValue').map((grant) => (typeof grant === 'string' ? grant : subText(grant)))).toEqual([
      'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:analytics/mongodb-uri-??????',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mongo-cdc-AbCdEf',
    ]);
    expect(grants(template(), 'RelayDashordersRole', 'secretsmanager:GetSecretValue')).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-uri-AbCdEf',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mongo-cdc-AbCdEf',
    ]);
    expect(grants(template(), 'RelayDashordersRole', 'kms:Decrypt')).toEqual(['arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab']);
    expect(props(template(), 'RelayDashordersLambdaFunction')).toMatchObject({ MemorySize: 1024, Timeout: 130 });
    expect(props(template(), 'RelayDashordersEventsRuleSchedule1').ScheduleExpression).toBe('rate(2 minutes)');
    // No MSK: no kafka or kafka-cluster permissions at all.
    for (const [id] of ofType(template(), 'AWS::IAM::Role')) {
      expect(statements(template(), id).flatMap(actionsOf).some((action) => action.startsWith('kafka')), id).toBe(false);
    }
  });

  it('maps each topic with the brokers, VPC, SCRAM secret, provisioned pollers and retry limit', () => {
    const mappings = esms(template(), 'SinkDynamodbLambdaFunction');
    expect(mappings.map((mapping) => mapping.Topics).sort()).toEqual([['cdc.analytics.events'], ['mongo-cdc.shop.orders']]);
    for (const mapping of mappings) {
      expect(mapping).toMatchObject({
        SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['kafka-1.internal.example:9096', 'kafka-2.internal.example:9096'] } },
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'mongo-cdc-tmpl-dynamodb' },
        StartingPosition: 'LATEST',
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 5,
        ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3, PollerGroupName: 'mongo-cdc-tmpl' },
        MaximumRetryAttempts: 5,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['SinkOnFailureQueue', 'Arn'] } } },
      });
      expect(mapping.EventSourceArn).toBeUndefined();
      expect(mapping.SourceAccessConfigurations).toEqual([
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0aaa0000000000001' },
        { Type: 'VPC_SUBNET', URI: 'subnet:subnet-0aaa0000000000002' },
        { Type: 'VPC_SECURITY_GROUP', URI: 'security_group:sg-0aaa0000000000003' },
        { Type: 'SASL_SCRAM_512_AUTH', URI: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mongo-cdc-AbCdEf' },
      ]);
    }
    expect(grants(template(), 'SinkDynamodbRole', 'secretsmanager:GetSecretValue')).toEqual([
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mongo-cdc-AbCdEf',
    ]);
    expect(grants(template(), 'SinkDynamodbRole', 'kms:Decrypt')).toEqual(['arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-0123456789ab']);
  });

  it('uses the existing alarm topic and a provisioned reporting table', () => {
    expect(template().Resources.AlarmTopic).toBeUndefined();
    expect(props(template(), 'ReportingTable')).toMatchObject({
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 20 },
    });
  });
});

describe('first deploy creating MSK Serverless and an OpenSearch domain', () => {
  const template = () => templates.createdInfrastructure;

  it('creates an IAM-authenticated MSK Serverless cluster in the VPC, and keeps it on stack deletion', () => {
    expect(template().Resources.MskServerlessCluster?.DeletionPolicy).toBe('Retain');
    expect(props(template(), 'MskServerlessCluster')).toEqual({
      ClusterName: 'mongo-cdc-first',
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [{ SubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002', 'subnet-0bbb0000000000003'], SecurityGroups: ['sg-0bbb0000000000004'] }],
    });
    for (const mapping of esms(template(), 'SinkDynamodbLambdaFunction')) {
      expect(mapping.EventSourceArn).toEqual({ 'Fn::GetAtt': ['MskServerlessCluster', 'Arn'] });
      // Brokers unknown until the cluster exists: nothing runs until the second deploy.
      expect(mapping.Enabled).toBe(false);
      // No on-failure destination (sinkOnFailure: none): retries stay unlimited, so no batch is discarded unrecorded.
      expect(mapping.DestinationConfig).toBeUndefined();
      expect(mapping.MaximumRetryAttempts).toBeUndefined();
      expect(mapping.ProvisionedPollerConfig).toBeUndefined();
    }
    expect(props(template(), 'RelayDashmainEventsRuleSchedule1').State).toBe('DISABLED');
    expect(grants(template(), 'RelayDashmainRole', 'kafka-cluster:WriteData').map(subText)).toEqual([
      'arn:${AWS::Partition}:kafka:${AWS::Region}:${AWS::AccountId}:topic/mongo-cdc-first/*/mongo-cdc.shop.orders',
      'arn:${AWS::Partition}:kafka:${AWS::Region}:${AWS::AccountId}:topic/mongo-cdc-first/*/mongo-cdc.dead-letter',
    ]);
    expect(template().Resources.SinkOnFailureQueue).toBeUndefined();
  });

  it('creates an encrypted, HTTPS-only OpenSearch domain in the VPC that only the sink role may call', () => {
    const domain = props(template(), 'OpenSearchDomain');
    expect(template().Resources.OpenSearchDomain?.DeletionPolicy).toBe('Retain');
    expect(domain).toMatchObject({
      DomainName: 'mongo-cdc-first',
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true },
      ClusterConfig: { InstanceCount: 2, ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } },
      VPCOptions: { SubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'], SecurityGroupIds: ['sg-0bbb0000000000004'] },
    });
    const policy = domain.AccessPolicies as { Statement: Statement[] & Array<{ Principal: Json }> };
    expect(policy.Statement).toHaveLength(1);
    expect(policy.Statement[0]?.Principal).toEqual({ AWS: { 'Fn::GetAtt': ['SinkOpensearchRole', 'Arn'] } });
    expect(environment(template(), 'SinkOpensearchLambdaFunction').OPENSEARCH_URL).toEqual({ 'Fn::Sub': 'https://${OpenSearchDomain.DomainEndpoint}' });
  });

  it('passes the sink tuning settings to the functions\' variables', () => {
    expect(environment(template(), 'SinkOpensearchLambdaFunction')).toMatchObject({
      SINK_OPENSEARCH_BULK_DOCUMENTS: '500',
      SINK_OPENSEARCH_BULK_BYTES: '8388608',
      SINK_OPENSEARCH_BULK_CONCURRENCY: '3',
      SINK_RETRY_BASE_MS: '500',
    });
    expect(environment(template(), 'SinkDynamodbLambdaFunction')).toMatchObject({ SINK_DYNAMODB_CONCURRENCY: '32', SINK_DYNAMODB_MAX_ATTEMPTS: '5' });
  });

  it('passes relaySnapshotReadThread to the relays\' SNAPSHOT_READ_THREAD only when set', () => {
    const relays = (of: CfnTemplate) => ofType(of, 'AWS::Lambda::Function').filter(([logicalId]) => logicalId.startsWith('Relay'));
    expect(relays(template()).length).toBeGreaterThan(0);
    for (const [logicalId] of relays(template())) expect(environment(template(), logicalId).SNAPSHOT_READ_THREAD).toBe('off');
    // Unset, the function's own default (auto) applies.
    for (const [logicalId] of relays(templates.mskIam)) expect(environment(templates.mskIam, logicalId)).not.toHaveProperty('SNAPSHOT_READ_THREAD');
  });
});

describe('packages', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'mongo-cdc-init-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(['mskIam', 'selfManagedScram'] as const)('%s: each function zip is under 1 MiB and its handler initialises with its environment', (scenario) => {
    const packageDir = inject('templatePackages')[scenario];
    const functions = packagedFunctions(packageDir);
    expect(functions.length).toBeGreaterThanOrEqual(3);
    for (const fn of functions) {
      expect(statSync(fn.zip).size, fn.zip).toBeLessThan(1024 * 1024);
      const into = join(scratch, scenario, fn.logicalId);
      extractZip(fn.zip, into);
      // Loading parses and validates the configuration, so a variable the template forgot fails here, not in AWS.
      const ms = timeModuleInit(into, fn.handler, offlineEnvironment(fn.environment), join(root, 'node_modules'));
      expect(ms).toBeGreaterThan(0);
    }
  });

  it('packages the snapshot\'s reading thread beside the relay, where the relay finds it and from where it starts', () => {
    const [relay] = packagedFunctions(inject('templatePackages').mskIam).filter((fn) => fn.logicalId.startsWith('Relay'));
    if (!relay) throw new Error('no relay packaged');
    const into = join(scratch, 'reading-thread', relay.logicalId);
    extractZip(relay.zip, into);
    // SNAPSHOT_READ_THREAD=on refuses to start where the thread's module is not beside the handler.
    expect(timeModuleInit(into, relay.handler, { ...offlineEnvironment(relay.environment), SNAPSHOT_READ_THREAD: 'on' }, join(root, 'node_modules'))).toBeGreaterThan(0);
    // The thread starts from its own bundle, with nothing from the handler's, and answers (here: closing its client).
    const probe = [
      "const { Worker } = require('node:worker_threads');",
      `const worker = new Worker(${JSON.stringify(join(into, 'functions/relay/relay-worker.js'))}, { workerData: { role: 'snapshot-read', uri: 'mongodb://127.0.0.1:1/?directConnection=true', stream: {}, clientOptions: { serverSelectionTimeoutMS: 200 } } });`,
      "worker.on('message', (envelope) => { process.stdout.write(JSON.stringify(envelope)); worker.terminate(); });",
      "worker.on('error', (error) => { console.error(error); process.exit(1); });",
      "worker.postMessage({ id: 7, message: { kind: 'close' } });",
    ].join('\n');
    const child = spawnSync(process.execPath, ['-e', probe], { cwd: into, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ id: 7, ok: true, reply: { kind: 'close' } });
    // The sinks' packages leave it out.
    for (const sink of packagedFunctions(inject('templatePackages').mskIam).filter((fn) => fn.logicalId.startsWith('Sink'))) {
      const sinkDir = join(scratch, 'reading-thread', sink.logicalId);
      extractZip(sink.zip, sinkDir);
      expect(existsSync(join(sinkDir, 'functions/relay/relay-worker.js'))).toBe(false);
    }
  });

  it('refuses to start without brokers, as the disabled first-deploy functions would', () => {
    const [relay] = packagedFunctions(inject('templatePackages').createdInfrastructure).filter((fn) => fn.logicalId.startsWith('Relay'));
    if (!relay) throw new Error('no relay packaged');
    const into = join(scratch, 'first', relay.logicalId);
    extractZip(relay.zip, into);
    expect(() => timeModuleInit(into, relay.handler, offlineEnvironment(relay.environment), join(root, 'node_modules'))).toThrow(/KAFKA_BROKERS/);
  });
});
