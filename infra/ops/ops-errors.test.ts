import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { KafkaJSProtocolError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from '../../shared/errors';
import { explainFailure, UsageError } from './ops-errors';

describe('explainFailure', () => {
  it('names the refused permission for AWS, Kafka and MongoDB denials', () => {
    const denials = [
      new DynamoDBServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'not authorized to perform dynamodb:GetItem' }),
      // KafkaJS builds protocol errors from the broker's error entry ({ message, type, code }); its typings say Error.
      new KafkaJSProtocolError(Object.assign(new Error('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29 })),
      // Its typings declare no arguments, but the runtime takes the broker's message like every KafkaJS error.
      new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)('SASL OAUTHBEARER authentication failed'),
      new MongoServerError({ message: 'not authorized on shop to execute command', code: 13, codeName: 'Unauthorized' }),
    ];
    for (const denial of denials) {
      const explained = explainFailure(denial, 'the attempted action on its resource');
      expect(explained).toBeInstanceOf(CdcError);
      expect((explained as CdcError).code).toBe('PERMISSION_DENIED');
      expect(explained.message).toMatch(/^permission denied: the attempted action on its resource \(/);
      expect(explained.cause).toBe(denial);
    }
  });

  it('says a missing table is missing, passes usage errors through, and keeps other failures with what was attempted', () => {
    const missing = new DynamoDBServiceException({ name: 'ResourceNotFoundException', $fault: 'client', $metadata: {}, message: 'Requested resource not found' });
    expect(explainFailure(missing, 'dynamodb:GetItem on table t').message).toBe(
      'dynamodb:GetItem on table t failed: the resource does not exist (Requested resource not found); check CONTROL_TABLE and AWS_REGION',
    );
    const usage = new UsageError('--to is required');
    expect(explainFailure(usage, 'x')).toBe(usage);
    expect(explainFailure(new Error('socket hang up'), 'kafka-cluster:ReadData on topic d').message).toBe(
      'kafka-cluster:ReadData on topic d failed: socket hang up',
    );
  });
});
