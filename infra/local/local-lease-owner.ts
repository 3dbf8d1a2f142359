import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { hostname } from 'node:os';
import { isAlive } from '../stack/process-control';

const PREFIX = 'local';

/**
 * The request id the local runtime gives each relay invocation, which the relay records as its lease owner. It names
 * the host and process, so the next local start can tell a lease whose holder is gone (killed, crashed) from one a
 * live process holds, and take it over at once instead of waiting out its expiry. Lambda's own request ids never
 * match this shape, so leases taken in AWS keep the lease rules unchanged.
 */
export function localRequestId(pid = process.pid, host = hostname()): string {
  return `${PREFIX}:${host}:${pid}:${randomUUID()}`;
}

export function parseLocalOwner(owner: string): { host: string; pid: number } | undefined {
  const match = /^local:(.+):(\d+):[0-9a-f-]{36}$/.exec(owner);
  if (!match) return undefined;
  return { host: match[1] ?? '', pid: Number(match[2]) };
}

/** True only for a lease a local runtime on this host took and whose process no longer exists. */
export function heldByDeadLocalProcess(owner: string, host = hostname(), alive: (pid: number) => boolean = isAlive): boolean {
  const parsed = parseLocalOwner(owner);
  return parsed !== undefined && parsed.host === host && parsed.pid !== process.pid && !alive(parsed.pid);
}

/**
 * Frees the leases that dead local processes left on these streams. The write is conditional on the exact owner and
 * fencing epoch read, so a lease that changed hands meanwhile is left alone; the next holder bumps the epoch as usual,
 * which fences the dead holder's writes should it somehow come back.
 */
export async function releaseAbandonedLocalLeases(client: DynamoDBClient, table: string, streamIds: readonly string[]): Promise<Array<{ streamId: string; owner: string }>> {
  const released: Array<{ streamId: string; owner: string }> = [];
  for (const streamId of streamIds) {
    const item = (await client.send(new GetItemCommand({ TableName: table, Key: { streamId: { S: streamId } }, ConsistentRead: true }))).Item;
    const owner = item?.leaseOwner?.S;
    if (!owner || !heldByDeadLocalProcess(owner)) continue;
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { streamId: { S: streamId } },
          UpdateExpression: 'REMOVE leaseOwner SET leaseExpiresAt = :zero',
          ConditionExpression: 'leaseOwner = :owner AND leaseEpoch = :epoch',
          ExpressionAttributeValues: { ':zero': { N: '0' }, ':owner': { S: owner }, ':epoch': { N: item?.leaseEpoch?.N ?? '0' } },
        }),
      );
      released.push({ streamId, owner });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
  return released;
}
