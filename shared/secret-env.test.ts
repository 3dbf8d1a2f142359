import { describe, expect, it } from 'vitest';
import { parseKafkaEnv } from './kafka-client';
import { credentialsFromSecret, resolveSecretCredentials } from './secret-env';

describe('credentials kept in Secrets Manager', () => {
  it('reads the {"username","password"} JSON that Amazon MSK SCRAM secrets hold', () => {
    expect(credentialsFromSecret('KAFKA_SASL_SECRET', '{"username":"relay","password":"s3cr3t!"}')).toEqual({ username: 'relay', password: 's3cr3t!' });
  });

  it('names the variable and never the secret when the secret is malformed', () => {
    const cases = ['s3cr3t!', '{"username":"relay"}', '{"username":"","password":"s3cr3t!"}', '["relay","s3cr3t!"]', '{"user":"relay","pass":"s3cr3t!"}'];
    for (const secret of cases) {
      expect(() => credentialsFromSecret('KAFKA_SASL_SECRET', secret), secret).toThrow(/the secret named by KAFKA_SASL_SECRET/);
      try {
        credentialsFromSecret('KAFKA_SASL_SECRET', secret);
      } catch (error) {
        expect((error as Error).message).not.toContain('s3cr3t');
      }
    }
  });

  it('uses plain variables when given, as local runs do, without asking Secrets Manager', async () => {
    await expect(resolveSecretCredentials('OPENSEARCH_BASIC_AUTH', { OPENSEARCH_BASIC_AUTH: '{"username":"a","password":"b"}' })).resolves.toEqual({
      username: 'a',
      password: 'b',
    });
    await expect(resolveSecretCredentials('OPENSEARCH_BASIC_AUTH', {})).rejects.toThrow('environment variable OPENSEARCH_BASIC_AUTH (or OPENSEARCH_BASIC_AUTH_SECRET) is required');
  });

  it('accepts SCRAM with a secret or with both plain variables, and names what is missing otherwise', () => {
    expect(parseKafkaEnv({ KAFKA_BROKERS: 'b:9096', KAFKA_AUTH: 'scram-sha-512', KAFKA_SASL_SECRET: 'AmazonMSK_relay' }).KAFKA_SASL_SECRET).toBe('AmazonMSK_relay');
    expect(parseKafkaEnv({ KAFKA_BROKERS: 'b:9096', KAFKA_AUTH: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }).KAFKA_SASL_USERNAME).toBe('u');
    expect(() => parseKafkaEnv({ KAFKA_BROKERS: 'b:9096', KAFKA_AUTH: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      /environment variable KAFKA_SASL_SECRET: is required for scram-sha-512 \(or KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD\)/,
    );
  });
});
