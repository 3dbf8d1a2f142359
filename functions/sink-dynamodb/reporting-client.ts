import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * The DynamoDB client the sink writes with: the default credential chain, DYNAMODB_ENDPOINT when set (local runs), and
 * adaptive retries (client-side rate limiting under throttling) up to `maxAttempts`. The benchmark builds it here too,
 * so it measures what is deployed.
 */
export function createReportingClient(settings: { maxAttempts: number }, env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  return new DynamoDBClient({
    ...(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : {}),
    maxAttempts: settings.maxAttempts,
    retryMode: 'adaptive',
  });
}
