import { beforeAll, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../package-inspection';
import { formatProblems, ResourceSchemas } from './resource-schemas';

/** The validator itself, on small templates: it must catch what CloudFormation would refuse, and accept intrinsics. */

let schemas: ResourceSchemas;
beforeAll(() => {
  schemas = new ResourceSchemas();
}, 60_000);

const FUNCTION = { Type: 'AWS::Lambda::Function', Properties: { Role: 'arn:aws:iam::123456789012:role/r', Code: { ZipFile: 'x' } } };

function withMapping(properties: Record<string, unknown>): CfnTemplate {
  return {
    Resources: {
      SinkLambdaFunction: FUNCTION,
      Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'SinkLambdaFunction' }, ...properties } },
    },
  };
}

const problemsOf = (template: CfnTemplate) => formatProblems(schemas.validate(template));

describe('CloudFormation resource schema validation', () => {
  it('accepts a valid Kafka mapping whose values are intrinsic functions', () => {
    const template = withMapping({
      Topics: ['orders'],
      BatchSize: 100,
      Enabled: { 'Fn::If': ['Ready', true, false] },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: { 'Fn::Split': [',', 'a:9092,b:9092'] } } },
    });

    expect(problemsOf(template)).toBe('');
  });

  it('names a misspelt property, top-level and nested', () => {
    const template = withMapping({ BatchSzie: 100, ProvisionedPollerConfig: { MinPollers: 1 } });

    expect(problemsOf(template)).toBe(['Mapping /: unknown property "BatchSzie"', 'Mapping /ProvisionedPollerConfig: unknown property "MinPollers"'].join('\n'));
  });

  it('names a value of the wrong type', () => {
    const template = withMapping({ BatchSize: 'ten', Topics: 'orders', Enabled: 'yes' });

    expect(problemsOf(template).split('\n').sort()).toEqual(['Mapping /BatchSize: must be integer', 'Mapping /Enabled: must be boolean', 'Mapping /Topics: must be array']);
  });

  it('names a missing required property, an unknown type and an unknown resource attribute', () => {
    const template: CfnTemplate = {
      Resources: {
        Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { Topics: ['orders'] } },
        Cluster: { Type: 'AWS::MSK::ServerlesCluster', Properties: {} },
        Table: { Type: 'AWS::SQS::Queue', DeletionPolicy: 'Retain', Propertes: {} } as CfnTemplate['Resources'][string],
      },
    };

    expect(problemsOf(template).split('\n')).toEqual([
      'Mapping /: missing required property "FunctionName"',
      'Cluster Type: unknown resource type AWS::MSK::ServerlesCluster',
      'Table Propertes: unknown resource attribute "Propertes"',
    ]);
  });

  it('checks allowed values where the specification lists them', () => {
    const template: CfnTemplate = {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { AccessControl: 'Everyone' } } },
    };
    const accepted: CfnTemplate = {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { AccessControl: 'Private' } } },
    };

    expect(problemsOf(template)).toMatch(/^Bucket \/AccessControl: must be one of \[.*"Private"/);
    expect(problemsOf(accepted)).toBe('');
  });

  it('names a Ref or Fn::GetAtt to a resource or attribute that does not exist', () => {
    const template = withMapping({ DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Queue', 'Url'] } } }, EventSourceArn: { Ref: 'MskCluster' } });

    expect(problemsOf(template).split('\n').sort()).toEqual([
      'Mapping /DestinationConfig/OnFailure/Destination: Fn::GetAtt Queue.Url: AWS::SQS::Queue has no attribute Url',
      'Mapping /EventSourceArn: Ref to MskCluster, which the template does not declare',
    ]);
  });
});
