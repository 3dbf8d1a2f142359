import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { CdcError } from '../../shared/errors';
import { decodeResumePoint, encodeResumePoint, positionKey, type ResumePoint, type StreamPosition } from '../../shared/stream-position';

export type { ResumePoint } from '../../shared/stream-position';

export interface Checkpoint {
  readonly streamId: string;
  readonly resume: ResumePoint;
  /** Cluster time of the last relayed event; unchanged by saves of quiet-stream tokens. */
  readonly lastEvent?: StreamPosition;
  readonly updatedAt?: string;
  readonly eventsRelayed: number;
  readonly stalled?: { readonly code: string; readonly reason: string; readonly at: string };
  readonly stopped?: { readonly reason: string; readonly at: string };
  readonly lease?: { readonly owner: string; readonly epoch: number; readonly expiresAt: number };
  /** Changes skipped by operator resets: from the last relayed event to where the stream restarted. */
  readonly gaps: ReadonlyArray<{ from?: string; to: string; by: string; at: string }>;
  /** Operator replays: the stream went back to `from` and re-relayed what followed (sinks absorb the repeats). */
  readonly replays: ReadonlyArray<{ from: string; by: string; at: string }>;
}

export interface Lease {
  readonly streamId: string;
  readonly owner: string;
  readonly epoch: number;
}

export interface CheckpointUpdate {
  readonly resume: ResumePoint;
  readonly lastEvent?: StreamPosition;
  readonly eventsAdded: number;
  readonly leaseExpiresAt: number;
}

/** The control table, narrowed to what a relay needs. Every write is conditional on the lease it holds. */
export interface CheckpointStore {
  /** Takes the stream's lease when free, expired or already this owner's; undefined when another live holder has it. */
  acquireLease(streamId: string, owner: string, expiresAt: number, now: number): Promise<Lease | undefined>;
  read(streamId: string): Promise<Checkpoint | undefined>;
  /** Throws LEASE_LOST when the lease moved on: the caller must stop producing at once. */
  save(lease: Lease, update: CheckpointUpdate): Promise<void>;
  markStalled(lease: Lease, code: string, reason: string): Promise<void>;
  markStopped(lease: Lease, reason: string): Promise<void>;
  release(lease: Lease): Promise<void>;
}

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });

function encodeResume(resume: ResumePoint): Record<string, AttributeValue> {
  const { kind, value } = encodeResumePoint(resume);
  return { ':resumeKind': s(kind), ':resumeValue': s(value) };
}

/** What an operator does to a stream from outside the relay (the reset input, the ops CLI). */
export interface OperatorActions {
  read(streamId: string): Promise<Checkpoint | undefined>;
  /** Restarts a stalled or stopped stream from a time, recording the gap it leaves. */
  reset(streamId: string, to: ResumePoint & { kind: 'now' | 'startAtOperationTime' }, by: string, now: Date): Promise<void>;
  /** Moves a stream back to a past time so the next invocation re-relays from there. */
  replay(streamId: string, from: Date, by: string, now: Date): Promise<void>;
  /** Every stream the table holds a checkpoint for. */
  streamIds(): Promise<string[]>;
}

export class DynamoCheckpointStore implements CheckpointStore, OperatorActions {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async streamIds(): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.table, ProjectionExpression: 'streamId', ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) if (item.streamId?.S) ids.push(item.streamId.S);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return ids.sort();
  }

  async acquireLease(streamId: string, owner: string, expiresAt: number, now: number): Promise<Lease | undefined> {
    try {
      const result = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { streamId: s(streamId) },
          UpdateExpression:
            'SET leaseOwner = :owner, leaseExpiresAt = :expiresAt, leaseEpoch = if_not_exists(leaseEpoch, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now OR leaseOwner = :owner',
          ExpressionAttributeValues: {
            ':owner': s(owner),
            ':expiresAt': n(expiresAt),
            ':now': n(now),
            ':zero': n(0),
            ':one': n(1),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { streamId, owner, epoch: Number(result.Attributes?.leaseEpoch?.N) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async read(streamId: string): Promise<Checkpoint | undefined> {
    const result = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { streamId: s(streamId) }, ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item) return undefined;
    const lastEvent = item.lastEventSeconds?.N
      ? {
          seconds: Number(item.lastEventSeconds.N),
          increment: Number(item.lastEventIncrement?.N ?? 0),
          ordinal: Number(item.lastEventOrdinal?.N ?? 0),
        }
      : undefined;
    return {
      streamId,
      resume: decodeResumePoint(item.resumeKind?.S, item.resumeValue?.S),
      ...(lastEvent ? { lastEvent } : {}),
      ...(item.updatedAt?.S ? { updatedAt: item.updatedAt.S } : {}),
      eventsRelayed: Number(item.eventsRelayed?.N ?? 0),
      ...(item.stalledCode?.S
        ? { stalled: { code: item.stalledCode.S, reason: item.stalledReason?.S ?? '', at: item.stalledAt?.S ?? '' } }
        : {}),
      ...(item.stoppedReason?.S ? { stopped: { reason: item.stoppedReason.S, at: item.stoppedAt?.S ?? '' } } : {}),
      ...(item.leaseOwner?.S
        ? {
            lease: {
              owner: item.leaseOwner.S,
              epoch: Number(item.leaseEpoch?.N ?? 0),
              expiresAt: Number(item.leaseExpiresAt?.N ?? 0),
            },
          }
        : {}),
      gaps: (item.gaps?.L ?? []).map((gap) => ({
        ...(gap.M?.from?.S ? { from: gap.M.from.S } : {}),
        to: gap.M?.to?.S ?? '',
        by: gap.M?.by?.S ?? '',
        at: gap.M?.at?.S ?? '',
      })),
      replays: (item.replays?.L ?? []).map((replay) => ({
        from: replay.M?.from?.S ?? '',
        by: replay.M?.by?.S ?? '',
        at: replay.M?.at?.S ?? '',
      })),
    };
  }

  async save(lease: Lease, update: CheckpointUpdate): Promise<void> {
    const position: Record<string, AttributeValue> = update.lastEvent
      ? {
          ':seconds': n(update.lastEvent.seconds),
          ':increment': n(update.lastEvent.increment),
          ':ordinal': n(update.lastEvent.ordinal),
          ':position': s(positionKey(update.lastEvent)),
        }
      : {};
    await fencedUpdate(this.client, this.table, lease, 'save the checkpoint', {
      UpdateExpression: [
        'SET resumeKind = :resumeKind, resumeValue = :resumeValue, updatedAt = :updatedAt, leaseExpiresAt = :expiresAt',
        update.lastEvent
          ? 'lastEventSeconds = :seconds, lastEventIncrement = :increment, lastEventOrdinal = :ordinal, lastEventPosition = :position'
          : '',
      ]
        .filter((part) => part !== '')
        .join(', ')
        .concat(' ADD eventsRelayed :added'),
      ExpressionAttributeValues: {
        ...encodeResume(update.resume),
        ...position,
        ':updatedAt': s(new Date().toISOString()),
        ':expiresAt': n(update.leaseExpiresAt),
        ':added': n(update.eventsAdded),
      },
    });
  }

  async markStalled(lease: Lease, code: string, reason: string): Promise<void> {
    await fencedUpdate(this.client, this.table, lease, 'mark the stream stalled', {
      UpdateExpression: 'SET stalledCode = :code, stalledReason = :reason, stalledAt = :at',
      ExpressionAttributeValues: { ':code': s(code), ':reason': s(reason), ':at': s(new Date().toISOString()) },
    });
  }

  async markStopped(lease: Lease, reason: string): Promise<void> {
    await fencedUpdate(this.client, this.table, lease, 'mark the stream stopped', {
      UpdateExpression: 'SET stoppedReason = :reason, stoppedAt = :at',
      ExpressionAttributeValues: { ':reason': s(reason), ':at': s(new Date().toISOString()) },
    });
  }

  async release(lease: Lease): Promise<void> {
    try {
      await fencedUpdate(this.client, this.table, lease, 'release the lease', {
        UpdateExpression: 'REMOVE leaseOwner SET leaseExpiresAt = :zero',
        ExpressionAttributeValues: { ':zero': n(0) },
      });
    } catch (error) {
      // A lease already taken over needs no release.
      if (!(error instanceof CdcError && error.code === 'LEASE_LOST')) throw error;
    }
  }

  async reset(
    streamId: string,
    to: ResumePoint & { kind: 'now' | 'startAtOperationTime' },
    by: string,
    now: Date,
  ): Promise<void> {
    const current = await this.read(streamId);
    if (!current) throw new CdcError('CONFIG_INVALID', `stream "${streamId}" has no checkpoint to reset`);
    const from = current.lastEvent ? new Date(current.lastEvent.seconds * 1000).toISOString() : undefined;
    const gapTo = to.kind === 'now' ? now.toISOString() : new Date(to.seconds * 1000).toISOString();
    const gap: AttributeValue = {
      M: { ...(from ? { from: s(from) } : {}), to: s(gapTo), by: s(by), at: s(now.toISOString()) },
    };
    // "Now" is the moment of the reset, where the recorded gap ends: resolving it only at the next run would skip,
    // unrecorded, every change made in between (up to a schedule period in AWS).
    const target: ResumePoint = to.kind === 'now' ? { kind: 'startAtOperationTime', seconds: Math.floor(now.getTime() / 1000), increment: 0 } : to;
    await this.restart(streamId, target, 'gaps', gap, now);
  }

  async replay(streamId: string, from: Date, by: string, now: Date): Promise<void> {
    const entry: AttributeValue = { M: { from: s(from.toISOString()), by: s(by), at: s(now.toISOString()) } };
    const seconds = Math.floor(from.getTime() / 1000);
    await this.restart(streamId, { kind: 'startAtOperationTime', seconds, increment: 0 }, 'replays', entry, now);
  }

  /** Points the stream at a new start, appends the operator's record of it, and clears stalled and stopped marks. */
  private async restart(
    streamId: string,
    to: ResumePoint,
    historyList: 'gaps' | 'replays',
    entry: AttributeValue,
    now: Date,
  ): Promise<void> {
    await this.client
      .send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { streamId: s(streamId) },
          UpdateExpression:
            `SET resumeKind = :resumeKind, resumeValue = :resumeValue, updatedAt = :at, ${historyList} = list_append(if_not_exists(${historyList}, :empty), :entry) ` +
            'REMOVE stalledCode, stalledReason, stalledAt, stoppedReason, stoppedAt',
          // A live relay would overwrite the change with its next checkpoint; only move a stream nobody holds.
          ConditionExpression: 'attribute_not_exists(leaseOwner) OR leaseExpiresAt < :nowMs',
          ExpressionAttributeValues: {
            ...encodeResume(to),
            ':at': s(now.toISOString()),
            ':empty': { L: [] },
            ':entry': { L: [entry] },
            ':nowMs': n(now.getTime()),
          },
        }),
      )
      .catch((error: unknown) => {
        if (error instanceof ConditionalCheckFailedException) {
          throw new CdcError('LEASE_HELD', `stream "${streamId}" is being relayed right now; try again once its lease is free`);
        }
        throw error;
      });
  }
}

/** The lease holder's conditional update of its control item: it fails with LEASE_LOST once another owner took over. */
export async function fencedUpdate(
  client: DynamoDBClient,
  table: string,
  lease: Lease,
  what: string,
  update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, AttributeValue> },
): Promise<void> {
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { streamId: s(lease.streamId) },
        UpdateExpression: update.UpdateExpression,
        ConditionExpression: 'leaseOwner = :leaseOwner AND leaseEpoch = :leaseEpoch',
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':leaseOwner': s(lease.owner), ':leaseEpoch': n(lease.epoch) },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw new CdcError(
        'LEASE_LOST',
        `could not ${what} for stream "${lease.streamId}": lease epoch ${lease.epoch} of ${lease.owner} is no longer current`,
        { cause: error },
      );
    }
    throw error;
  }
}
