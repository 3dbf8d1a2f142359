import { CdcError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { Metrics } from '../../shared/metrics';
import { mapChangeStreamError } from '../../shared/mongo-errors';
import { type ResumePoint, resumeTokenText, type StreamPosition } from '../../shared/stream-position';
import { type BatchSource, type ChangeBatch, type DeadLetterNote, readChangeBatch } from './batch-reader';
import type { ChangeSource } from './change-source';
import type { Checkpoint, CheckpointStore, Lease } from './checkpoint-store';
import type { OutgoingRecord, RecordProducer } from './record-producer';
import type { StreamConfig } from './relay-config';
import { SnapshotShare } from './snapshot-share';
import { type SnapshotDeps, SnapshotStep } from './snapshot-step';

export interface RelayDeps {
  readonly store: CheckpointStore;
  readonly producer: RecordProducer;
  /** The change stream from `resume`: read event by event here, or batch by batch on a worker thread. */
  readonly openSource: (resume: ResumePoint) => ChangeSource | BatchSource;
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

export type { ChangeBatch };

/**
 * One invocation's state for one stream, held by the lease: what every step reads and moves. A step that writes
 * the control table goes through `run.deps.store` with `run.lease`, so every write is fenced.
 */
export interface RelayRun {
  readonly deps: RelayDeps;
  readonly stream: StreamConfig;
  readonly limits: RelayLimits;
  readonly lease: Lease;
  readonly now: () => number;
  /** The lease's new expiry, extended with every checkpoint write. */
  readonly leaseExpiry: () => number;
  /** False once only the safety margin is left: no new read or batch starts. */
  readonly hasTime: () => boolean;
  /** The wall-clock time (Date.now, shared with a read thread) at which hasTime turns false. */
  readonly readUntil: () => number;
  readonly log: { readonly streamId: string };
  source: ChangeSource | BatchSource | undefined;
  resume: ResumePoint;
  /** The last relayed event's position; its ordinal continues across batches and invocations. */
  position: StreamPosition | undefined;
  /** The token text last written to the checkpoint, and when: quiet-stream saves skip an unchanged token. */
  savedToken: string;
  savedAt: number;
  totals: { events: number; batches: number; deadLettered: number; trimmed: number; checkpoints: number; snapshotted: number };
  /** The stream's snapshot, when one is running: a chunk of it is copied between live batches. */
  snapshot?: SnapshotStep;
}

/**
 * One invocation of the relay for one stream: take the lease, refuse a stalled or stopped stream, fix the start
 * point, then until the time budget ends move bounded batches to Kafka, saving the checkpoint after Kafka
 * acknowledged each one. Each step is a named function below, in the order it runs.
 */
export async function relayStream(
  deps: RelayDeps,
  stream: StreamConfig,
  limits: RelayLimits,
  invocation: Invocation,
): Promise<RelayOutcome> {
  const now = deps.now ?? Date.now;
  const leaseExpiry = () => now() + invocation.remainingMs() + limits.leaseGraceMs;
  const lease = await takeLease(deps, stream, invocation, leaseExpiry(), now());
  if ('status' in lease) return lease;

  const run: RelayRun = {
    deps,
    stream,
    limits,
    lease,
    now,
    leaseExpiry,
    hasTime: () => invocation.remainingMs() > limits.safetyMarginMs,
    readUntil: () => Date.now() + invocation.remainingMs() - limits.safetyMarginMs,
    log: { streamId: stream.id },
    source: undefined,
    resume: { kind: 'now' },
    position: undefined,
    savedToken: '',
    savedAt: now(),
    totals: { events: 0, batches: 0, deadLettered: 0, trimmed: 0, checkpoints: 0, snapshotted: 0 },
  };
  const reads = new ReadAhead(run);
  try {
    const checkpoint = await deps.store.read(stream.id);
    const refused = refuseStalledOrStopped(run, checkpoint);
    if (refused) return refused;
    await beginSnapshot(run, checkpoint);
    await fixStartPoint(run, checkpoint);
    run.source = deps.openSource(run.resume);
    const readThread = 'readBatch' in run.source ? 'worker' : 'main';
    deps.logger.info({ event: 'relay.start', ...run.log, resumeKind: run.resume.kind, lastEvent: run.position, readThread });
    const ended = await relayBatches(run, reads);
    if (ended) return ended;
    await saveFinalToken(run);
    deps.metrics.add('CheckpointAgeSeconds', 'Seconds', (now() - run.savedAt) / 1000);
    return { status: 'relayed', ...run.totals };
  } catch (error) {
    return await classifyFailure(run, error);
  } finally {
    deps.metrics.flush();
    await run.source?.close().catch(() => undefined);
    await reads.abandon();
    await run.snapshot?.abandon();
    await deps.store.release(lease).catch((error: unknown) => {
      deps.logger.warn({ event: 'relay.release-failed', ...run.log, error: (error as Error).message });
    });
  }
}

/** The stream's lease, or the outcome for the caller when another live invocation holds it. */
async function takeLease(
  deps: RelayDeps,
  stream: StreamConfig,
  invocation: Invocation,
  expiresAt: number,
  now: number,
): Promise<Lease | RelayOutcome> {
  const lease = await deps.store.acquireLease(stream.id, invocation.owner, expiresAt, now);
  if (lease) return lease;
  const holder = (await deps.store.read(stream.id))?.lease;
  deps.logger.info({ event: 'relay.lease-held', streamId: stream.id, holder: holder?.owner, holderExpiresAt: holder?.expiresAt });
  deps.metrics.add('LeaseHeld', 'Count', 1);
  deps.metrics.flush();
  return { status: 'lease-held', ...(holder ? { holder: holder.owner } : {}) };
}

/** A stalled or stopped stream waits for an operator; this returns the outcome saying so, or undefined to go on. */
function refuseStalledOrStopped(run: RelayRun, checkpoint: Checkpoint | undefined): RelayOutcome | undefined {
  const { logger, metrics } = run.deps;
  if (checkpoint?.stalled) {
    logger.error({ event: 'relay.stalled', ...run.log, code: checkpoint.stalled.code, reason: checkpoint.stalled.reason });
    metrics.add('StreamStalled', 'Count', 1);
    if (checkpoint.updatedAt) metrics.add('CheckpointAgeSeconds', 'Seconds', (run.now() - Date.parse(checkpoint.updatedAt)) / 1000);
    return { status: 'stalled', code: checkpoint.stalled.code, reason: checkpoint.stalled.reason };
  }
  if (checkpoint?.stopped) {
    logger.warn({ event: 'relay.stopped', ...run.log, reason: checkpoint.stopped.reason });
    return { status: 'stopped', reason: checkpoint.stopped.reason };
  }
  return undefined;
}

/**
 * Where this invocation starts: the checkpoint's resume point, or for a new (or reset-to-now) stream a fixed time,
 * saved before anything is relayed so "now" is decided once.
 */
async function fixStartPoint(run: RelayRun, checkpoint: Checkpoint | undefined): Promise<void> {
  run.resume = checkpoint?.resume ?? { kind: 'now' };
  run.position = checkpoint?.lastEvent;
  run.savedToken = run.resume.kind === 'resumeAfter' || run.resume.kind === 'startAfter' ? resumeTokenText(run.resume.token) : '';
  if (run.resume.kind !== 'now') return;
  const brandNew = checkpoint?.updatedAt === undefined;
  run.resume =
    brandNew && run.stream.startAt !== 'now'
      ? { kind: 'startAtOperationTime', seconds: Math.floor(Date.parse(run.stream.startAt) / 1000), increment: 0 }
      : { kind: 'startAtOperationTime', ...(await run.deps.serverTime()) };
  await run.deps.store.save(run.lease, { resume: run.resume, eventsAdded: 0, leaseExpiresAt: run.leaseExpiry() });
}

/**
 * Reading batch N+1 overlaps producing batch N. Every batch read is produced before the loop ends, so no token is
 * ever saved past an event that Kafka has not acknowledged.
 */
class ReadAhead {
  private pending: Promise<ChangeBatch> | undefined;

  constructor(private readonly run: RelayRun) {}

  /** Starts reading the next batch unless one is being read or time is up. */
  start(from: StreamPosition | undefined = this.run.position): void {
    if (this.pending || !this.run.hasTime() || !this.run.source) return;
    const reading = collectBatch(this.run, this.run.source, from);
    // Settled later, or abandoned when the invocation fails first; never an unhandled rejection.
    reading.catch(() => undefined);
    this.pending = reading;
  }

  /** The batch being read, or undefined when none was started (time is up). */
  async take(): Promise<ChangeBatch | undefined> {
    const reading = this.pending;
    this.pending = undefined;
    return reading;
  }

  async abandon(): Promise<void> {
    await this.pending?.catch(() => undefined);
  }
}

/**
 * The invocation's loop: each turn takes one batch from the change stream and moves it to Kafka and the checkpoint,
 * or, when the stream was quiet, saves the idle checkpoint. Returns an outcome when the stream must stop early.
 *
 * Between two turns nothing is in flight but the read of the next batch, the checkpoint is saved and the lease
 * extended: this is where other bounded work of the same stream (a snapshot chunk, say) can be interleaved, producing
 * through `produceThenSave` so its records are acknowledged before its progress is saved.
 */
async function relayBatches(run: RelayRun, reads: ReadAhead): Promise<RelayOutcome | undefined> {
  const share = run.snapshot ? new SnapshotShare({ share: run.stream.snapshotShare, maxPauseMs: run.stream.snapshotMaxPauseMs }) : undefined;
  let liveStarted = run.now();
  reads.start();
  for (let batch = await reads.take(); batch; batch = await reads.take()) {
    if (batch.events === 0) {
      await saveIdleCheckpoint(run);
    } else {
      if (!batch.last?.invalidate) reads.start(batch.last?.position ?? run.position);
      await publishChangeBatch(run, batch);
      if (batch.last?.invalidate) {
        const stopped = await handleInvalidate(run);
        if (stopped) return stopped;
      }
    }
    reads.start();
    const liveEnded = run.now();
    share?.liveTook(liveEnded - liveStarted);
    if (share) await copySnapshotTurn(run, share, batch.events === 0);
    liveStarted = run.now();
  }
  if (share) {
    const { liveMs, snapshotMs } = share.used;
    run.deps.logger.info({ event: 'relay.snapshot-share', ...run.log, liveMs, snapshotMs, snapshotFraction: Number(share.snapshotFraction.toFixed(3)) });
  }
  return undefined;
}

/**
 * Picks up the running snapshot, starts a requested one, or, for a stream that never ran with `snapshot: initial`,
 * the initial one. Before a new stream fixes its start point, so a crash in between cannot leave it without its copy.
 */
async function beginSnapshot(run: RelayRun, checkpoint: Checkpoint | undefined): Promise<void> {
  const { deps } = run;
  if (!deps.snapshots) return;
  const step = new SnapshotStep(deps.snapshots, deps.producer, run.stream, run.lease, run.leaseExpiry, run.limits.maxRecordBytes, deps.logger, deps.metrics, run.now);
  await step.begin(checkpoint?.updatedAt === undefined);
  if (step.active) run.snapshot = step;
}

/**
 * The snapshot's turn between two live batches, while the next live batch is already being read: at least one chunk,
 * more while the snapshot is owed its share of the invocation or the live stream is quiet, never past the pause bound.
 */
async function copySnapshotTurn(run: RelayRun, share: SnapshotShare, liveQuiet: boolean): Promise<void> {
  const turnStarted = run.now();
  let chunks = 0;
  while (run.snapshot?.active && run.hasTime() && share.copyAnother({ chunks, ms: run.now() - turnStarted, liveQuiet })) {
    const chunkStarted = run.now();
    run.totals.snapshotted += (await run.snapshot.copyChunk(run.hasTime)).documents;
    share.snapshotTook(run.now() - chunkStarted);
    chunks++;
  }
  // The turn's last progress save ran beside nothing: wait for it before the live stream writes its checkpoint.
  const settleStarted = run.now();
  await run.snapshot?.settle();
  share.snapshotTook(run.now() - settleStarted);
}

/**
 * Sends records and, only after Kafka acknowledged every one, runs the checkpoint write. The step any batch of this
 * stream goes through, whatever produced its records.
 */
export async function produceThenSave(
  run: RelayRun,
  records: readonly OutgoingRecord[],
  events: number,
  save: () => Promise<void>,
): Promise<{ produceMs: number; checkpointMs: number }> {
  const produceStarted = run.now();
  try {
    await run.deps.producer.send(records);
  } catch (error) {
    run.deps.metrics.add('KafkaProduceErrors', 'Count', 1);
    run.deps.logger.error({ event: 'relay.produce-failed', ...run.log, events, error: (error as Error).message });
    throw new CdcError(
      'KAFKA_PRODUCE_FAILED',
      `Kafka did not acknowledge a batch of ${events} events for stream "${run.stream.id}"; the checkpoint was not moved`,
      { cause: error },
    );
  }
  const checkpointStarted = run.now();
  await save();
  run.totals.checkpoints++;
  return { produceMs: checkpointStarted - produceStarted, checkpointMs: run.now() - checkpointStarted };
}

/** Produces a change-stream batch, moves the checkpoint past its last event, and reports it. */
async function publishChangeBatch(run: RelayRun, batch: ChangeBatch): Promise<void> {
  const last = batch.last;
  if (!last) throw new Error('a non-empty batch always has a last event');
  const resume: ResumePoint = { kind: last.invalidate ? 'startAfter' : 'resumeAfter', token: last.token };
  const position = last.position ?? run.position;
  const timing = await produceThenSave(run, batch.records, batch.events, () =>
    run.deps.store.save(run.lease, {
      resume,
      ...(position ? { lastEvent: position } : {}),
      eventsAdded: batch.events,
      leaseExpiresAt: run.leaseExpiry(),
    }),
  );
  run.resume = resume;
  run.position = position;
  run.savedToken = resumeTokenText(last.token);
  run.savedAt = run.now();
  run.totals.events += batch.events;
  run.totals.batches++;
  run.totals.deadLettered += batch.deadLettered;
  run.totals.trimmed += batch.trimmed;

  const { logger, metrics } = run.deps;
  const lagSeconds = position ? Math.max(0, run.now() / 1000 - position.seconds) : undefined;
  logger.info({
    event: 'relay.batch',
    ...run.log,
    events: batch.events,
    records: batch.records.length,
    bytes: batch.bytes,
    ...timing,
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
}

/** Quiet stream: keep the checkpoint inside the oplog window with the server's post-batch resume token. */
async function saveIdleCheckpoint(run: RelayRun): Promise<void> {
  const token = run.source?.resumeToken;
  if (!token) return;
  const text = resumeTokenText(token);
  if (text === run.savedToken || run.now() - run.savedAt < run.limits.idleCheckpointMs) return;
  await run.deps.store.save(run.lease, { resume: { kind: 'resumeAfter', token }, eventsAdded: 0, leaseExpiresAt: run.leaseExpiry() });
  run.savedToken = text;
  run.savedAt = run.now();
  run.totals.checkpoints++;
  run.deps.logger.debug({ event: 'relay.idle-checkpoint', ...run.log });
}

/**
 * The watched collection or database was dropped or renamed; the invalidate is already in Kafka and the checkpoint
 * says startAfter its token. Per configuration the stream stops (CHANGE_STREAM_INVALIDATED, until an operator resets
 * it) or a new change stream continues after it.
 */
async function handleInvalidate(run: RelayRun): Promise<RelayOutcome | undefined> {
  const { store, logger, metrics } = run.deps;
  metrics.add('StreamInvalidated', 'Count', 1);
  if (run.stream.onInvalidate === 'stop') {
    await store.markStopped(run.lease, 'invalidated: the watched collection or database was dropped or renamed');
    logger.warn({ event: 'relay.invalidated', ...run.log, code: 'CHANGE_STREAM_INVALIDATED', action: 'stop' });
    return { status: 'stopped', reason: 'invalidated' };
  }
  logger.warn({ event: 'relay.invalidated', ...run.log, code: 'CHANGE_STREAM_INVALIDATED', action: 'continue with startAfter' });
  await run.source?.close();
  run.source = run.deps.openSource(run.resume);
  return undefined;
}

/** Leave with the newest token the server gave, so a quiet stream's next run starts where this one ended. */
async function saveFinalToken(run: RelayRun): Promise<void> {
  const token = run.source?.resumeToken;
  if (!token || resumeTokenText(token) === run.savedToken) return;
  await run.deps.store.save(run.lease, { resume: { kind: 'resumeAfter', token }, eventsAdded: 0, leaseExpiresAt: run.leaseExpiry() });
  run.totals.checkpoints++;
}

/**
 * What a failure means for the stream. A lost lease ends the invocation quietly (the new holder goes on); a resume
 * point gone from the oplog or a checkpoint that cannot be read stalls the stream for an operator; everything else
 * fails the invocation with a named error, MongoDB errors mapped to theirs, so the next one retries.
 */
async function classifyFailure(run: RelayRun, error: unknown): Promise<RelayOutcome> {
  const { store, logger, metrics } = run.deps;
  const named = mapChangeStreamError(error);
  if (named instanceof CdcError && named.code === 'LEASE_LOST') {
    logger.error({ event: 'relay.lease-lost', ...run.log, epoch: run.lease.epoch, error: named.message });
    metrics.add('LeaseLost', 'Count', 1);
    return { status: 'lease-lost', events: run.totals.events };
  }
  if (named instanceof CdcError && (named.code === 'CHANGE_STREAM_HISTORY_LOST' || named.code === 'CHECKPOINT_CONFLICT')) {
    await store.markStalled(run.lease, named.code, named.message);
    logger.error({
      event: named.code === 'CHANGE_STREAM_HISTORY_LOST' ? 'relay.history-lost' : 'relay.checkpoint-unreadable',
      ...run.log,
      code: named.code,
      reason: named.message,
    });
    metrics.add('StreamStalled', 'Count', 1);
    return { status: 'stalled', code: named.code, reason: named.message };
  }
  if (named !== error && named instanceof CdcError) {
    // A MongoDB error, now named (MONGO_FATAL or MONGO_UNAVAILABLE) with the driver's error as its cause.
    metrics.add('MongoErrors', 'Count', 1);
    logger.error({ event: 'relay.failed', ...run.log, code: named.code, error: named.message });
  } else if (!(error instanceof CdcError) || error.code === 'READ_THREAD_FAILED') {
    metrics.add('RelayErrors', 'Count', 1);
    logger.error({ event: 'relay.failed', ...run.log, error: (error as Error).message });
  }
  throw named;
}

/**
 * Reads one bounded batch (see readChangeBatch): here, event by event, or as a whole from a source that reads on a
 * worker thread, bounded the same way with the same time budget.
 */
async function collectBatch(run: RelayRun, source: ChangeSource | BatchSource, startPosition: StreamPosition | undefined): Promise<ChangeBatch> {
  const { batch, deadLetters } =
    'readBatch' in source
      ? await source.readBatch({ from: startPosition, readUntil: run.readUntil(), maxRecordBytes: run.limits.maxRecordBytes })
      : await readChangeBatch(source, run.stream, run.limits.maxRecordBytes, startPosition, run);
  for (const deadLetter of deadLetters) logDeadLetter(run, deadLetter);
  return batch;
}

function logDeadLetter(run: RelayRun, { code, reason, operationType }: DeadLetterNote): void {
  run.deps.logger.warn({ event: 'relay.event-dead-lettered', ...run.log, code, reason, operationType });
}
