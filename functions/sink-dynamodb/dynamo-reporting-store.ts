import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inPool } from '../../shared/in-pool';
import { CdcError } from '../../shared/errors';
import { positionKey } from '../../shared/stream-position';
import type { RejectedRecord, SinkChange } from '../../shared/sink-batch';
import type { ApplyOutcome, ReportingStore } from '../../shared/sink-runner';
import { toAttribute, toAttributeMap } from './dynamo-item';
import { DynamoJsonTransport, DynamoServiceError, dynamoJson } from './dynamo-json-transport';

/** Item attributes the sink owns; a document field with one of these names cannot be stored beside them. */
export const RESERVED_ATTRIBUTES = ['_key', '_version', '_op', '_ns', '_syncedAt', '_expiresAt'] as const;

/** DynamoDB's limit on a partition key value. */
export const MAX_PARTITION_KEY_BYTES = 2_048;

/**
 * The item key of a document: "db.coll|<documentKey as canonical Extended JSON>", or, when that is longer than the
 * 2,048 bytes a partition key may hold, "db.coll|sha256:<hex SHA-256 of the documentKey JSON>". Either way the item
 * keeps the document's own `_id`, and this function gives the key to look a document up by its `_id`.
 */
export function reportingKey(namespace: { db: string; coll: string }, documentKeyJson: string): string {
  const plain = `${namespace.db}.${namespace.coll}|${documentKeyJson}`;
  if (Buffer.byteLength(plain) <= MAX_PARTITION_KEY_BYTES) return plain;
  return `${namespace.db}.${namespace.coll}|sha256:${createHash('sha256').update(documentKeyJson).digest('hex')}`;
}

export interface DynamoReportingOptions {
  readonly table: string;
  /** Conditional writes cannot be batched (BatchWriteItem takes no conditions), so they run this many at a time. */
  readonly concurrency: number;
  /** When set, delete tombstones carry `_expiresAt` (epoch seconds) this far ahead, for a TTL to purge them. */
  readonly tombstoneTtlSeconds?: number;
}

/**
 * One item per source document, keyed by `reportingKey` (hashed when over DynamoDB's 2,048-byte limit), written only when the item
 * is absent or holds an older version. A delete leaves a tombstone with its version, so a late older update cannot
 * bring the document back.
 */
export class DynamoReportingStore implements ReportingStore {
  private readonly transport: DynamoJsonTransport;

  /** Requests go out with the client's credentials, region, endpoint and retry strategy (see DynamoJsonTransport). */
  constructor(
    client: DynamoDBClient,
    private readonly options: DynamoReportingOptions,
  ) {
    this.transport = new DynamoJsonTransport(client, { maxSockets: options.concurrency });
  }

  async apply(changes: readonly SinkChange[], remainingMs: () => number): Promise<ApplyOutcome> {
    let applied = 0;
    let stale = 0;
    const rejected: RejectedRecord[] = [];
    let failure: unknown;
    // One deadline for the whole batch: a second before the invocation's end, as each write had before.
    const deadline = AbortSignal.timeout(Math.max(1_000, remainingMs() - 1_000));
    setMaxListeners(this.options.concurrency + 10, deadline);
    await inPool(changes, this.options.concurrency, async (change) => {
      if (failure) return;
      let item: Record<string, AttributeValue>;
      try {
        item = this.itemFor(change);
      } catch (error) {
        rejected.push({ record: change.record, code: 'STORE_REJECTED', reason: (error as Error).message });
        return;
      }
      try {
        const request = {
          TableName: this.options.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#key) OR #version < :version',
          ExpressionAttributeNames: { '#key': '_key', '#version': '_version' },
          ExpressionAttributeValues: { ':version': item._version },
        };
        await this.transport.send('PutItem', dynamoJson(request, item), deadline);
        applied++;
      } catch (error) {
        if (error instanceof DynamoServiceError && error.name === 'ConditionalCheckFailedException') {
          applied++;
          stale++;
          return;
        }
        const name = (error as { name?: string }).name;
        const message = (error as Error).message;
        if (name === 'ValidationException') {
          const tooLarge = /size has exceeded|item size/i.test(message);
          rejected.push({
            record: change.record,
            code: tooLarge ? 'RECORD_TOO_LARGE' : 'STORE_REJECTED',
            reason: `DynamoDB refused the item for ${change.identity}: ${message}`,
          });
          return;
        }
        failure = error;
      }
    });
    if (failure) {
      throw new CdcError(
        'STORE_UNAVAILABLE',
        `DynamoDB table ${this.options.table} did not accept writes (the SDK's retries are spent): ${(failure as Error).message}`,
        { cause: failure },
      );
    }
    return { applied, stale, rejected };
  }

  private itemFor(change: SinkChange): Record<string, AttributeValue> {
    const meta: Record<string, AttributeValue> = {
      _key: { S: reportingKey(change.namespace, change.documentKeyJson) },
      _version: { S: positionKey(change.version) },
      _op: { S: change.operationType },
      _ns: { S: `${change.namespace.db}.${change.namespace.coll}` },
      _syncedAt: { S: new Date().toISOString() },
    };
    if (change.kind === 'delete') {
      // The document's `_id` stays on its tombstone too, so a hashed key can still be traced to its document.
      const id = (change.documentKey as { _id?: unknown })._id;
      if (id !== undefined) meta._id = toAttribute(id, '_id');
      if (this.options.tombstoneTtlSeconds !== undefined) {
        meta._expiresAt = { N: String(Math.floor(Date.now() / 1000) + this.options.tombstoneTtlSeconds) };
      }
      return meta;
    }
    const document = toAttributeMap(change.document ?? {});
    const clash = RESERVED_ATTRIBUTES.find((name) => name in document);
    if (clash) throw new CdcError('RECORD_MALFORMED', `the document has a field "${clash}", which the DynamoDB sink reserves`);
    return { ...document, ...meta };
  }
}
