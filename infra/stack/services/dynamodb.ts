import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { compileLauncher, jarsIn, resolveArtifacts } from '../artifacts';
import { spawnDetached } from '../process-control';
import { bindHost, javaHeap, ports } from '../stack-settings';
import { endpoints, external } from '../endpoints';
import type { LocalService, ProbeResult } from './local-service';

/**
 * Amazon DynamoDB Local 3.x from Maven Central, in memory with one shared database, through a small launcher that
 * binds it to the loopback address (DynamoDB Local itself has no bind-address option). Telemetry is off: it would
 * try to reach AWS.
 */
export function dynamodbService(): LocalService {
  const port = ports.dynamodb();
  let folder = '';
  let classpath = '';

  return {
    name: 'dynamodb',
    port,
    address: endpoints.dynamodb(),
    externalVariable: 'DYNAMODB_ENDPOINT',
    isExternal: external.dynamodb(),
    startTimeoutMs: 60_000,

    async prepare(progress) {
      folder = resolveArtifacts('dynamodb', progress);
      const jars = jarsIn(folder);
      classpath = `${jars}:${compileLauncher('DynamoDbLocalLoopback', jars)}`;
    },

    async spawn() {
      const pid = spawnDetached('dynamodb', 'java', [
        `-Xmx${javaHeap.dynamodb}`,
        '-XX:+UseSerialGC',
        `-Djava.library.path=${folder}`,
        '-cp',
        classpath,
        'DynamoDbLocalLoopback',
        bindHost,
        '-inMemory',
        '-sharedDb',
        '-disableTelemetry',
        '-port',
        String(port.port),
      ]);
      return { pid, description: 'Amazon DynamoDB Local 3.3.1 (in memory, shared database)' };
    },

    probe: () => probeDynamodb(endpoints.dynamodb()),
  };
}

export async function probeDynamodb(endpoint: string): Promise<ProbeResult> {
  const client = new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 2_000, connectionTimeout: 1_000 },
  });
  try {
    const tables = await client.send(new ListTablesCommand({}));
    return { answering: true, detail: `${tables.TableNames?.length ?? 0} table(s)` };
  } catch (error) {
    return { answering: false, detail: (error as Error).message };
  } finally {
    client.destroy();
  }
}
