import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CdcError } from '../../shared/errors';
import { fencedUpdate, type Lease } from './checkpoint-store';
import type { KeyCursor } from './snapshot-plan';

/** An operator's (or the first run's) request for a snapshot, waiting for the relay to pick it up. */
export interface SnapshotRequest {
  readonly id: string;
  readonly by: string;
  readonly at: string;
  /** Only this "db.coll"; otherwise every namespace the stream watches. */
  readonly namespace?: string;
}

/** A running snapshot: what is left to copy and how far the current collection got, in `_id` index order. */
export interface SnapshotProgress {
  readonly id: string;
  readonly by: string;
  readonly requestedAt: string;
  readonly startedAt: string;
  readonly namespace?: string;
  /** Every namespace of the run, "db.coll", in copy order; `current` indexes it. */
  readonly namespaces: readonly string[];
  readonly current: number;
  readonly cursor: KeyCursor;
  readonly copied: number;
  /** Sum of the collections' estimated counts at the start; a guide for the ETA, not a promise. */
  readonly estimated: number;
}

/** A finished snapshot, kept in the control item beside gaps and replays. */
export interface SnapshotRun {
  readonly id: string;
  readonly by: string;
  readonly requestedAt: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly documents: number;
  readonly namespace?: string;
}

export interface SnapshotRecord {
  readonly request?: SnapshotRequest;
  readonly running?: SnapshotProgress;
  readonly runs: readonly SnapshotRun[];
}

/** The snapshot part of a stream's control item. Relay writes are fenced by the lease, like checkpoint saves. */
export interface SnapshotStore {
  readSnapshots(streamId: string): Promise<SnapshotRecord>;
  /** Records a request; refused with SNAPSHOT_RUNNING while another is requested or running. No lease needed. */
  requestSnapshot(streamId: string, request: SnapshotRequest): Promise<void>;
  /** Turns the pending request (if any) into the running snapshot. */
  startSnapshot(lease: Lease, progress: SnapshotProgress, leaseExpiresAt: number): Promise<void>;
  /** Saves progress; call only after Kafka acknowledged every record of the chunk. Throws LEASE_LOST. */
  saveSnapshot(lease: Lease, progress: SnapshotProgress, leaseExpiresAt: number): Promise<void>;
  finishSnapshot(lease: Lease, run: SnapshotRun, leaseExpiresAt: number): Promise<void>;
}

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });

function runItem(run: SnapshotRun): AttributeValue {
  return {
    M: {
      id: s(run.id),
      by: s(run.by),
      requestedAt: s(run.requestedAt),
      startedAt: s(run.startedAt),
      finishedAt: s(run.finishedAt),
      documents: n(run.documents),
      ...(run.namespace ? { namespace: s(run.namespace) } : {}),
    },
  };
}

function runOf(item: AttributeValue): SnapshotRun {
  const m = item.M ?? {};
  return {
    id: m.id?.S ?? '',
    by: m.by?.S ?? '',
    requestedAt: m.requestedAt?.S ?? '',
    startedAt: m.startedAt?.S ?? '',
    finishedAt: m.finishedAt?.S ?? '',
    documents: Number(m.documents?.N ?? 0),
    ...(m.namespace?.S ? { namespace: m.namespace.S } : {}),
  };
}

/**
 * Kept as JSON strings (`snapshotRequest`, `snapshotProgress`) and a list (`snapshotRuns`) in the stream's own control
 * item, so one conditional write both fences on the lease and moves the progress.
 */
export class DynamoSnapshotStore implements SnapshotStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async readSnapshots(streamId: string): Promise<SnapshotRecord> {
    const result = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { streamId: s(streamId) },
        ConsistentRead: true,
        ProjectionExpression: 'snapshotRequest, snapshotProgress, snapshotRuns',
      }),
    );
    const item = result.Item ?? {};
    return {
      ...(item.snapshotRequest?.S ? { request: JSON.parse(item.snapshotRequest.S) as SnapshotRequest } : {}),
      ...(item.snapshotProgress?.S ? { running: JSON.parse(item.snapshotProgress.S) as SnapshotProgress } : {}),
      runs: (item.snapshotRuns?.L ?? []).map(runOf),
    };
  }

  async requestSnapshot(streamId: string, request: SnapshotRequest): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { streamId: s(streamId) },
          UpdateExpression: 'SET snapshotRequest = :request',
          ConditionExpression: 'attribute_not_exists(snapshotRequest) AND attribute_not_exists(snapshotProgress)',
          ExpressionAttributeValues: { ':request': s(JSON.stringify(request)) },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const current = await this.readSnapshots(streamId);
        const other = current.running ?? current.request;
        throw new CdcError(
          'SNAPSHOT_RUNNING',
          `stream "${streamId}" already has snapshot ${other?.id ?? '(unknown)'} ${current.running ? 'running' : 'requested'}; ask again once it finished`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async startSnapshot(lease: Lease, progress: SnapshotProgress, leaseExpiresAt: number): Promise<void> {
    await fencedUpdate(this.client, this.table, lease, 'start the snapshot', {
      UpdateExpression: 'SET snapshotProgress = :progress, leaseExpiresAt = :expiresAt REMOVE snapshotRequest',
      ExpressionAttributeValues: { ':progress': s(JSON.stringify(progress)), ':expiresAt': n(leaseExpiresAt) },
    });
  }

  async saveSnapshot(lease: Lease, progress: SnapshotProgress, leaseExpiresAt: number): Promise<void> {
    await fencedUpdate(this.client, this.table, lease, 'save snapshot progress', {
      UpdateExpression: 'SET snapshotProgress = :progress, leaseExpiresAt = :expiresAt',
      ExpressionAttributeValues: { ':progress': s(JSON.stringify(progress)), ':expiresAt': n(leaseExpiresAt) },
    });
  }

  async finishSnapshot(lease: Lease, run: SnapshotRun, leaseExpiresAt: number): Promise<void> {
    await fencedUpdate(this.client, this.table, lease, 'record the finished snapshot', {
      UpdateExpression:
        'SET snapshotRuns = list_append(if_not_exists(snapshotRuns, :empty), :run), leaseExpiresAt = :expiresAt REMOVE snapshotProgress',
      ExpressionAttributeValues: { ':run': { L: [runItem(run)] }, ':empty': { L: [] }, ':expiresAt': n(leaseExpiresAt) },
    });
  }
}
