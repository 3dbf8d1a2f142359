import { BSON, type ChangeStreamDocument, type ResumeToken, Timestamp } from 'mongodb';
import { CdcError, classifyMongoError } from '../../shared/errors';
import { nextOrdinal, versionOf } from '../../shared/event-version';
import type { Logger } from '../../shared/logger';
import type { Metrics } from '../../shared/metrics';
import type { ChangeSource } from './change-source';
import type { Checkpoint, CheckpointStore, ClusterPosition, Lease, ResumePoint } from './checkpoint-store';
import { recordsForEvent } from './event-records';
import type { OutgoingRecord, RecordProducer } from './record-producer';
import type { StreamConfig } from './relay-config';
import { type SnapshotDeps, SnapshotStep } from './snapshot-step';

export interface RelayDeps {
  readonly store: CheckpointStore;
  readonly producer: RecordProducer;
  readonly openSource: (resume: ResumePoint) => ChangeSource;
  /** The source's current operation time, to pin down where a new (or reset-to-now) stream starts. */
  readonly serverTime: () => Promise<{ seconds: number; increment: number }>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  /** Initial and requested snapshots, copied between live batches; without it the relay only streams changes. */
  readonly snapshots?: SnapshotDeps;
}

export interface RelayLimits {
  /** Records larger than this are handled by the oversize policy. */
  readonly maxRecordBytes: number;
  readonly idleCheckpointMs: number;
  readonly safetyMarginMs: number;
  readonly leaseGraceMs: number;
}

export interface Invocation {
  /** Unique per invocation attempt and stable across its retries (the Lambda request id). */
  readonly owner: string;
  readonly remainingMs: () => number;
}

export type RelayOutcome =
  | {
      status: 'relayed';
      events: number;
      batches: number;
      deadLettered: number;
      trimmed: number;
      checkpoints: number;
      /** Documents copied by a snapshot in this invocation. */
      snapshotted: number;
    }
  | { status: 'lease-held'; holder?: string }
  | { status: 'stalled'; code: string; reason: string }
  | { status: 'stopped'; reason: string }
  | { status: 'lease-lost'; events: number };

const tokenText = (token: ResumeToken | undefined) =>
  token === undefined ? '' : BSON.EJSON.stringify(token, { relaxed: false });

function clusterTimeOf(event: ChangeStreamDocument): Timestamp | undefined {
  return 'clusterTime' in event && event.clusterTime instanceof Timestamp ? event.clusterTime : undefined;
}

/** The event's oplog position; its ordinal continues across batches and runs through the checkpoint. */
function nextPosition(previous: ClusterPosition | undefined, clusterTime: Timestamp): ClusterPosition {
  return versionOf(clusterTime, nextOrdinal(previous, clusterTime));
}

interface Batch {
  records: OutgoingRecord[];
  events: number;
  bytes: number;
  deadLettered: number;
  trimmed: number;
  last?: { token: ResumeToken; position: ClusterPosition | undefined; invalidate: boolean };
}

/**
 * One invocation of the relay for one stream: take the lease, resume the change stream from the checkpoint, and until
 * the time budget ends, move bounded batches to Kafka, saving the checkpoint after Kafka acknowledged each batch.
 */
export async function relayStream(
  deps: RelayDeps,
  stream: StreamConfig,
  limits: RelayLimits,
  invocation: Invocation,
): Promise<RelayOutcome> {
  const now = deps.now ?? Date.now;
  const { store, logger, metrics } = deps;
  const streamLog = { streamId: stream.id };
  const leaseExpiry = () => now() + invocation.remainingMs() + limits.leaseGraceMs;

  const lease = await store.acquireLease(stream.id, invocation.owner, leaseExpiry(), now());
  if (!lease) {
    const holder = (await store.read(stream.id))?.lease;
    logger.info({ event: 'relay.lease-held', ...streamLog, holder: holder?.owner, holderExpiresAt: holder?.expiresAt });
    metrics.add('LeaseHeld', 'Count', 1);
    // This path returns before the try/finally that flushes the rest.
    metrics.flush();
    return { status: 'lease-held', ...(holder ? { holder: holder.owner } : {}) };
  }

  let source: ChangeSource | undefined;
  let pendingRead: () => Promise<Batch> | undefined = () => undefined;
  let totals = { events: 0, batches: 0, deadLettered: 0, trimmed: 0, checkpoints: 0, snapshotted: 0 };
  try {
    const stored = await store.read(stream.id);
    const checkpoint: Checkpoint = stored ?? {
      streamId: stream.id,
      resume: { kind: 'now' },
      eventsRelayed: 0,
      gaps: [],
      replays: [],
    };
    if (checkpoint.stalled) {
      logger.error({ event: 'relay.stalled', ...streamLog, code: checkpoint.stalled.code, reason: checkpoint.stalled.reason });
      metrics.add('StreamStalled', 'Count', 1);
      if (checkpoint.updatedAt) metrics.add('CheckpointAgeSeconds', 'Seconds', (now() - Date.parse(checkpoint.updatedAt)) / 1000);
      return { status: 'stalled', code: checkpoint.stalled.code, reason: checkpoint.stalled.reason };
    }
    if (checkpoint.stopped) {
      logger.warn({ event: 'relay.stopped', ...streamLog, reason: checkpoint.stopped.reason });
      return { status: 'stopped', reason: checkpoint.stopped.reason };
    }

    let resume = checkpoint.resume;
    let position = checkpoint.lastEvent;
    let savedToken = resume.kind === 'resumeAfter' || resume.kind === 'startAfter' ? tokenText(resume.token) : '';
    let savedAt = now();
    const snapshot = deps.snapshots
      ? new SnapshotStep(deps.snapshots, deps.producer, stream, lease, leaseExpiry, limits.maxRecordBytes, logger, metrics, now)
      : undefined;
    // Before a new stream saves its starting point, so a crash in between cannot leave it without its initial copy.
    await snapshot?.begin(checkpoint.updatedAt === undefined);
    if (resume.kind === 'now') {
      // A new (or reset-to-now) stream records where it starts before relaying anything, so "now" is fixed once.
      resume = await startingPoint(stream, deps, checkpoint.updatedAt === undefined);
      await store.save(lease, { resume, eventsAdded: 0, leaseExpiresAt: leaseExpiry() });
    }
    source = deps.openSource(resume);
    logger.info({ event: 'relay.start', ...streamLog, resumeKind: resume.kind, lastEvent: position });

    const hasTime = () => invocation.remainingMs() > limits.safetyMarginMs;
    // One snapshot chunk between live batches, while the next live batch is already being read.
    const copyChunk = async () => {
      if (snapshot?.active && hasTime()) totals.snapshotted += (await snapshot.copyChunk(hasTime)).documents;
    };
    const collect = (from: ClusterPosition | undefined) => {
      const reading = collectBatch(activeSource, stream, limits, from, hasTime, now);
      // Settled later, or abandoned when the invocation fails first; never an unhandled rejection.
      reading.catch(() => undefined);
      return reading;
    };
    let activeSource = source;
    // Reading batch N+1 overlaps producing batch N; every batch read is produced before the loop ends, so no token is
    // ever saved past an event that Kafka has not acknowledged.
    let next: Promise<Batch> | undefined = hasTime() ? collect(position) : undefined;
    pendingRead = () => next;
    while (next) {
      const batch = await next;
      next = undefined;
      if (batch.events === 0) {
        // Quiet stream: keep the checkpoint inside the oplog window with the server's post-batch resume token.
        const token = source.resumeToken;
        const text = tokenText(token);
        if (token && text !== savedToken && now() - savedAt >= limits.idleCheckpointMs) {
          await store.save(lease, { resume: { kind: 'resumeAfter', token }, eventsAdded: 0, leaseExpiresAt: leaseExpiry() });
          savedToken = text;
          savedAt = now();
          totals.checkpoints++;
          logger.debug({ event: 'relay.idle-checkpoint', ...streamLog });
        }
        if (hasTime()) next = collect(position);
        await copyChunk();
        continue;
      }
      if (batch.last && !batch.last.invalidate && hasTime()) next = collect(batch.last.position ?? position);

      const produceStarted = now();
      try {
        await deps.producer.send(batch.records);
      } catch (error) {
        metrics.add('KafkaProduceErrors', 'Count', 1);
        logger.error({ event: 'relay.produce-failed', ...streamLog, events: batch.events, error: (error as Error).message });
        throw new CdcError('KAFKA_PRODUCE_FAILED', `Kafka did not acknowledge a batch of ${batch.events} events for stream "${stream.id}"; the checkpoint was not moved`, { cause: error });
      }
      const produceMs = now() - produceStarted;

      const last = batch.last;
      if (!last) throw new Error('a non-empty batch always has a last event');
      resume = { kind: last.invalidate ? 'startAfter' : 'resumeAfter', token: last.token };
      position = last.position ?? position;
      const checkpointStarted = now();
      await store.save(lease, {
        resume,
        ...(position ? { lastEvent: position } : {}),
        eventsAdded: batch.events,
        leaseExpiresAt: leaseExpiry(),
      });
      const checkpointMs = now() - checkpointStarted;
      savedToken = tokenText(last.token);
      savedAt = now();

      totals = {
        events: totals.events + batch.events,
        batches: totals.batches + 1,
        deadLettered: totals.deadLettered + batch.deadLettered,
        trimmed: totals.trimmed + batch.trimmed,
        checkpoints: totals.checkpoints + 1,
        snapshotted: totals.snapshotted,
      };
      const lagSeconds = position ? Math.max(0, now() / 1000 - position.seconds) : undefined;
      logger.info({
        event: 'relay.batch',
        ...streamLog,
        events: batch.events,
        records: batch.records.length,
        bytes: batch.bytes,
        produceMs,
        checkpointMs,
        ...(lagSeconds !== undefined ? { lagSeconds } : {}),
        deadLettered: batch.deadLettered,
        trimmed: batch.trimmed,
      });
      metrics.add('EventsRelayed', 'Count', batch.events);
      metrics.add('BatchBytes', 'Bytes', batch.bytes);
      if (lagSeconds !== undefined) metrics.add('LagSeconds', 'Seconds', lagSeconds);
      if (batch.deadLettered > 0) metrics.add('EventsDeadLettered', 'Count', batch.deadLettered);
      if (batch.trimmed > 0) metrics.add('EventsTrimmed', 'Count', batch.trimmed);
      metrics.flush();

      if (last.invalidate) {
        metrics.add('StreamInvalidated', 'Count', 1);
        if (stream.onInvalidate === 'stop') {
          await store.markStopped(lease, 'invalidated: the watched collection or database was dropped or renamed');
          logger.warn({ event: 'relay.invalidated', ...streamLog, action: 'stop' });
          return { status: 'stopped', reason: 'invalidated' };
        }
        logger.warn({ event: 'relay.invalidated', ...streamLog, action: 'continue with startAfter' });
        await activeSource.close();
        activeSource = deps.openSource(resume);
        source = activeSource;
        if (hasTime()) next = collect(position);
      }
      await copyChunk();
    }

    // Leave with the newest token the server gave, so a quiet stream's next run starts where this one ended.
    const finalToken = source.resumeToken;
    if (finalToken && tokenText(finalToken) !== savedToken) {
      await store.save(lease, { resume: { kind: 'resumeAfter', token: finalToken }, eventsAdded: 0, leaseExpiresAt: leaseExpiry() });
      totals.checkpoints++;
    }
    metrics.add('CheckpointAgeSeconds', 'Seconds', (now() - savedAt) / 1000);
    return { status: 'relayed', ...totals };
  } catch (error) {
    if (error instanceof CdcError && error.code === 'LEASE_LOST') {
      logger.error({ event: 'relay.lease-lost', ...streamLog, epoch: lease.epoch, error: error.message });
      metrics.add('LeaseLost', 'Count', 1);
      return { status: 'lease-lost', events: totals.events };
    }
    const classified = classifyMongoError(error);
    if (classified.kind === 'history-lost') {
      const reason = `resume point is no longer in the oplog (${classified.codeName ?? 'code'} ${classified.code ?? ''}): ${(error as Error).message}`;
      await store.markStalled(lease, 'CHANGE_STREAM_HISTORY_LOST', reason);
      logger.error({ event: 'relay.history-lost', ...streamLog, code: classified.code, reason });
      metrics.add('StreamStalled', 'Count', 1);
      return { status: 'stalled', code: 'CHANGE_STREAM_HISTORY_LOST', reason };
    }
    if (!(error instanceof CdcError)) {
      metrics.add(classified.kind === 'not-mongo' ? 'RelayErrors' : 'MongoErrors', 'Count', 1);
      logger.error({ event: 'relay.failed', ...streamLog, kind: classified.kind, error: (error as Error).message });
    }
    throw error;
  } finally {
    metrics.flush();
    await source?.close().catch(() => undefined);
    await pendingRead()?.catch(() => undefined);
    await store.release(lease).catch((error: unknown) => {
      logger.warn({ event: 'relay.release-failed', ...streamLog, error: (error as Error).message });
    });
  }
}

/** A brand-new stream starts at its configured time; otherwise (also after a reset to now) at the server's now. */
async function startingPoint(stream: StreamConfig, deps: RelayDeps, brandNew: boolean): Promise<ResumePoint> {
  if (brandNew && stream.startAt !== 'now') {
    return { kind: 'startAtOperationTime', seconds: Math.floor(Date.parse(stream.startAt) / 1000), increment: 0 };
  }
  return { kind: 'startAtOperationTime', ...(await deps.serverTime()) };
}

/**
 * Reads one bounded batch: it closes at maxEvents, at maxBytes, maxWaitMs after its first event, at an invalidate
 * (the stream ends there), or when the time budget runs out. Returns an empty batch after one quiet getMore.
 */
async function collectBatch(
  source: ChangeSource,
  stream: StreamConfig,
  limits: RelayLimits,
  startPosition: ClusterPosition | undefined,
  hasTime: () => boolean,
  now: () => number,
): Promise<Batch> {
  const batch: Batch = { records: [], events: 0, bytes: 0, deadLettered: 0, trimmed: 0 };
  let position = startPosition;
  let firstAt: number | undefined;
  while (batch.events < stream.batch.maxEvents && batch.bytes < stream.batch.maxBytes && hasTime()) {
    if (firstAt !== undefined && now() - firstAt >= stream.batch.maxWaitMs) break;
    const askedAt = now();
    const event = await source.tryNext();
    if (event === null) {
      if (batch.events === 0) {
        // A server that does not honour maxAwaitTimeMS answers at once; do not spin on it.
        if (now() - askedAt < 20) await new Promise((resolve) => setTimeout(resolve, 50));
        return batch;
      }
      continue;
    }
    firstAt ??= now();
    const clusterTime = clusterTimeOf(event);
    position = clusterTime ? nextPosition(position, clusterTime) : position;
    const encoded = recordsForEvent(event, position?.ordinal ?? 0, stream, limits.maxRecordBytes);
    batch.records.push(...encoded.records);
    batch.events++;
    batch.bytes += encoded.bytes;
    if (encoded.deadLettered) batch.deadLettered++;
    if (encoded.trimmed) batch.trimmed++;
    const invalidate = event.operationType === 'invalidate';
    batch.last = { token: event._id, position, invalidate };
    if (invalidate) break;
  }
  return batch;
}
