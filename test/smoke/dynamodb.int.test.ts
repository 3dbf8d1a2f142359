import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { uniqueName } from '../support/unique-name';

describe('DynamoDB smoke test (DynamoDB Local)', () => {
  const client = new DynamoDBClient({
    endpoint: endpoints.dynamodb(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const table = uniqueName('smoke-ddb');

  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    client.destroy();
  });

  const versionedPut = (version: number, payload: string) =>
    client.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'doc-1' }, version: { N: String(version) }, payload: { S: payload } },
        ConditionExpression: 'attribute_not_exists(pk) OR version < :version',
        ExpressionAttributeValues: { ':version': { N: String(version) } },
      }),
    );

  it('rejects a conditional put that carries a stale version', async () => {
    // Prepare
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await versionedPut(2, 'newer');

    // Act
    const stale = versionedPut(1, 'older');

    // Assess
    await expect(stale).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const item = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'doc-1' } } }));
    expect(item.Item?.payload?.S).toBe('newer');
    expect(item.Item?.version?.N).toBe('2');
  });
});
