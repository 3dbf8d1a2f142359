import { describe, expect, it } from 'vitest';
import { topicForNamespace } from '../../shared/topic-naming';
import { buildConfig } from './deploy-settings';

/** The deployment's settings, validated before anything is built (no packaging, no AWS). */

type Json = Record<string, unknown>;

describe('settings validation (before anything is built)', () => {
  const build = (fromParams: Json, fromFile: Json = {}) => () => buildConfig({ stage: 'prod', service: 'mongo-cdc', fromParams, fromFile });

  it('lists every problem at once, naming each setting', () => {
    expect(build({ kafkaAuth: 'plain', vpcSubnets: 'subnet-1a' }, { streamz: [] })).toThrow(
      /config file: unknown setting "streamz"[\s\S]*streams is required[\s\S]*kafkaAuth must be one of[\s\S]*mskClusterArn is required[\s\S]*kafkaBrokers is required[\s\S]*vpcSubnets and vpcSecurityGroups go together/,
    );
  });

  it("refuses a stream the relay would refuse, using the relay's own schema", () => {
    expect(build({ streams: '[{"id":"a b","colection":"x"}]', kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', kafkaAuth: 'none', sinks: '' })).toThrow(
      /streams\[0\.id\]: must be 1-64 letters[\s\S]*colection/,
    );
  });

  it('needs sink topics when a stream watches a whole database, and refuses wildcard topics', () => {
    const common = { kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', kafkaAuth: 'none', sinks: 'dynamodb' };
    expect(build({ ...common, streams: '[{"id":"db","database":"shop"}]' })).toThrow(/sinkTopics is required/);
    expect(build({ ...common, streams: '[{"id":"db","database":"shop"}]', sinkTopics: 'mongo-cdc.shop.*' })).toThrow(/named topics only/);
  });

  it('names a misspelt parameter or config file setting, with the setting it resembles', () => {
    const common = { streams: '[{"id":"a","database":"d","collection":"c"}]', kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', kafkaAuth: 'none', sinks: 'dynamodb' };
    expect(build({ ...common, sinkBatchSzie: '100' })).toThrow('parameter: unknown setting "sinkBatchSzie" (did you mean "sinkBatchSize"?)');
    expect(build(common, { relayTimout: 60 })).toThrow('config file: unknown setting "relayTimout" (did you mean "relayTimeout"?)');
    expect(build({ ...common, somethingElse: 'x' })).toThrow(/unknown setting "somethingElse"$/m);
  });

  it('parses parameters (strings) and config file values (YAML) alike, and names a value of the wrong kind', () => {
    const common = { streams: '[{"id":"a","database":"d","collection":"c"}]', kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', kafkaAuth: 'none', sinks: 'dynamodb' };
    const fromParams = buildConfig({ stage: 'prod', service: 'mongo-cdc', fromParams: { ...common, sinkBatchSize: '100', vpcSubnets: 'subnet-1,subnet-2', vpcSecurityGroups: '["sg-1"]' }, fromFile: {} });
    const fromFile = buildConfig({ stage: 'prod', service: 'mongo-cdc', fromParams: {}, fromFile: { ...common, sinkBatchSize: 100, vpcSubnets: ['subnet-1', 'subnet-2'], vpcSecurityGroups: ['sg-1'] } });
    expect(fromParams).toEqual(fromFile);
    expect(fromParams.sinks.batchSize).toBe(100);
    expect(fromParams.vpc).toEqual({ subnetIds: ['subnet-1', 'subnet-2'], securityGroupIds: ['sg-1'] });
    const wrongKinds = build({ ...common, sinkBatchSize: 'many', allowTopicCreation: 'yes' });
    expect(wrongKinds).toThrow('- sinkBatchSize must be an integer from 1 to 10000, got "many"');
    expect(wrongKinds).toThrow('- allowTopicCreation must be true or false, got "yes"');
    expect(build({ ...common, opensearchBulkBytes: '1000' })).toThrow('- opensearchBulkBytes must be an integer from 65536 to 104857600, got "1000"');
    expect(build({ ...common, sinkDynamodbConcurrency: '0' })).toThrow('- sinkDynamodbConcurrency must be an integer from 1 to 256, got "0"');
    expect(build({ ...common, sinkDynamodbMaxAttempts: '0' })).toThrow('- sinkDynamodbMaxAttempts must be an integer from 1 to 100, got "0"');
    expect(build({ ...common, opensearchRetryBaseMs: '-5' })).toThrow('- opensearchRetryBaseMs must be an integer from 1 to 60000, got "-5"');
  });

  it('keeps Kafka retry limits to provisioned mode, SCRAM to a secret, and IAM to MSK', () => {
    const common = { streams: '[{"id":"a","database":"d","collection":"c"}]', kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', sinks: 'dynamodb' };
    expect(build({ ...common, kafkaAuth: 'none', sinkMaxRetryAttempts: '3', sinkProvisionedPollers: 'none' })).toThrow(/sinkMaxRetryAttempts needs sinkProvisionedPollers/);
    expect(build({ ...common, kafkaAuth: 'none', sinkMaxRetryAttempts: '3', sinkOnFailure: 'none' })).toThrow(/needs sinkOnFailure "sqs"/);
    expect(build({ ...common, kafkaAuth: 'scram-sha-256' })).toThrow(/needs kafkaSecretArn/);
    expect(build({ ...common, kafkaAuth: 'iam' })).toThrow(/works with Amazon MSK only/);
    expect(build({ ...common, kafkaAuth: 'none' })).not.toThrow();
  });

  it('names topics by the shared topic-naming rule: overrides, prefixes, and IAM wildcards for database streams', () => {
    const streams = [
      { id: 'orders', database: 'shop', collection: 'orders', topics: { 'shop.orders': 'orders-v1' } },
      { id: 'crm', database: 'crm', collection: 'people', topicPrefix: 'cdc', deadLetterTopic: 'cdc.crm-dlq' },
      { id: 'whole', database: 'analytics' },
    ];
    const config = buildConfig({
      stage: 'prod',
      service: 'mongo-cdc',
      fromParams: { streams: JSON.stringify(streams), kafkaBrokers: 'b:9092', kafkaEventSource: 'kafka', kafkaAuth: 'none', sinks: 'dynamodb', sinkTopics: 'orders-v1' },
      fromFile: {},
    });

    expect(config.relays.map(({ id, topics, deadLetterTopic }) => ({ id, topics, deadLetterTopic }))).toEqual([
      { id: 'orders', topics: ['orders-v1'], deadLetterTopic: 'mongo-cdc.dead-letter' },
      { id: 'crm', topics: [topicForNamespace({ topicPrefix: 'cdc', topics: {} }, { db: 'crm', coll: 'people' })], deadLetterTopic: 'cdc.crm-dlq' },
      { id: 'whole', topics: ['mongo-cdc.analytics.*'], deadLetterTopic: 'mongo-cdc.dead-letter' },
    ]);
  });
});
