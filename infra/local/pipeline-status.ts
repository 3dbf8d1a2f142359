import type { Admin } from 'kafkajs';
import type { Checkpoint, DynamoCheckpointStore } from '../../functions/relay/checkpoint-store';
import { parseLocalOwner } from './local-lease-owner';
import type { SnapshotRecord, SnapshotStore } from '../../functions/relay/snapshot-store';
import { describeSnapshot, snapshotProgressLine } from '../ops/snapshot-commands';
import type { RelayInvocationReport } from './relay-scheduler';
import type { ConsumerEvent, SinkInvocationReport } from './sink-consumer';

export interface StreamView {
  readonly streamId: string;
  eventsRelayed: number;
  lastEventAt?: string;
  lagSeconds?: number;
  checkpointAgeSeconds?: number;
  stalled?: string;
  invocations: number;
  running: boolean;
  runningSince?: number;
  lastError?: string;
  /** Who held the lease when the last invocation could not take it (another pipeline on the same control table). */
  heldBy?: string;
  /** When eventsRelayed last changed, for drain detection. */
  changedAt: number;
  /** A running snapshot's progress (namespace, copied of estimated, rate, ETA), or the last one's result. */
  snapshot?: string;
  /** A snapshot is asked for or copying: the pipeline is not drained until it finished. */
  snapshotRunning?: boolean;
}

export interface SinkView {
  readonly sink: string;
  invocations: number;
  records: number;
  applied: number;
  stale: number;
  deadLettered: number;
  failures: number;
  /** Times KafkaJS gave up on the consumer, and times a new one took its place. */
  crashes: number;
  restarts: number;
  /** Batches given up on after the retry limit, described on the on-failure topic. */
  onFailure: number;
  /** Not yet in its consumer group: after a killed run, until that run's members time out (about 30 s). */
  joining: boolean;
  lagRecords?: number;
  lastError?: string;
}

function describeOwner(owner: string | undefined): string {
  if (!owner) return 'unknown holder';
  const local = parseLocalOwner(owner);
  return local ? `local run pid ${local.pid} on ${local.host}` : `invocation ${owner}`;
}

/** What the status view shows, kept current from invocation reports, the control table and consumer group offsets. */
export class PipelineStatus {
  readonly streams = new Map<string, StreamView>();
  readonly sinks = new Map<string, SinkView>();

  constructor(streamIds: readonly string[], sinks: readonly string[]) {
    for (const streamId of streamIds) this.streams.set(streamId, { streamId, eventsRelayed: 0, invocations: 0, running: false, changedAt: Date.now() });
    for (const sink of sinks) this.sinks.set(sink, { sink, invocations: 0, records: 0, applied: 0, stale: 0, deadLettered: 0, failures: 0, crashes: 0, restarts: 0, onFailure: 0, joining: true });
  }

  relayStarted(streamId: string): void {
    const view = this.streams.get(streamId);
    if (view) Object.assign(view, { running: true, runningSince: Date.now() });
  }

  relayEnded(report: RelayInvocationReport): void {
    const view = this.streams.get(report.streamId);
    if (!view) return;
    view.invocations++;
    view.running = false;
    if (report.error) view.lastError = report.error;
    if (report.outcome?.status === 'lease-held') view.heldBy = describeOwner(report.outcome.holder);
    else delete view.heldBy;
  }

  sinkInvoked(report: SinkInvocationReport): void {
    const view = this.sinks.get(report.sink);
    if (!view) return;
    view.invocations++;
    if (report.error) {
      view.failures++;
      view.lastError = report.error;
      return;
    }
    view.records += report.records;
    view.applied += report.summary?.applied ?? 0;
    view.stale += report.summary?.stale ?? 0;
    view.deadLettered += report.summary?.deadLettered ?? 0;
  }

  consumerEvent(event: ConsumerEvent): void {
    const view = this.sinks.get(event.sink);
    if (!view) return;
    if (event.kind === 'joined') {
      view.joining = false;
      return;
    }
    if (event.kind === 'crashed') view.crashes++;
    else if (event.kind === 'restarted') view.restarts++;
    else view.onFailure++;
    if (event.kind !== 'restarted') view.lastError = `${event.kind}: ${event.detail}`;
  }

  applyCheckpoint(streamId: string, checkpoint: Checkpoint | undefined, now: number): void {
    const view = this.streams.get(streamId);
    if (!view || !checkpoint) return;
    if (checkpoint.eventsRelayed !== view.eventsRelayed) view.changedAt = now;
    view.eventsRelayed = checkpoint.eventsRelayed;
    if (checkpoint.lastEvent) {
      view.lastEventAt = new Date(checkpoint.lastEvent.seconds * 1000).toISOString();
      view.lagSeconds = Math.max(0, now / 1000 - checkpoint.lastEvent.seconds);
    }
    if (checkpoint.updatedAt) view.checkpointAgeSeconds = Math.max(0, (now - Date.parse(checkpoint.updatedAt)) / 1000);
    if (checkpoint.stalled) view.stalled = `${checkpoint.stalled.code}: ${checkpoint.stalled.reason}`;
    else delete view.stalled;
  }

  applySnapshot(streamId: string, record: SnapshotRecord, now: number): void {
    const view = this.streams.get(streamId);
    if (!view) return;
    const status = describeSnapshot(record, new Date(now));
    const last = status.runs.at(-1);
    view.snapshotRunning = Boolean(status.running || status.requested);
    if (status.running) view.snapshot = snapshotProgressLine(status.running);
    else if (status.requested) view.snapshot = `${status.requested.id} asked for by ${status.requested.by}`;
    else if (last) view.snapshot = `done: ${last.documents} documents copied, finished ${last.finishedAt}`;
    else delete view.snapshot;
  }

  async refresh(
    store: DynamoCheckpointStore,
    admin: Admin,
    groups: ReadonlyMap<string, string>,
    topics: () => Promise<string[]>,
    snapshots?: SnapshotStore,
  ): Promise<void> {
    const now = Date.now();
    for (const streamId of this.streams.keys()) this.applyCheckpoint(streamId, await store.read(streamId), now);
    if (snapshots) for (const streamId of this.streams.keys()) this.applySnapshot(streamId, await snapshots.readSnapshots(streamId), now);
    const consumed = await topics();
    for (const [sink, groupId] of groups) {
      const view = this.sinks.get(sink);
      if (!view || consumed.length === 0) continue;
      let lag = 0;
      const committed = await admin.fetchOffsets({ groupId, topics: consumed });
      for (const topic of consumed) {
        const done = new Map((committed.find((entry) => entry.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        for (const partition of await admin.fetchTopicOffsets(topic)) {
          const position = done.get(partition.partition) ?? -1;
          lag += Number(partition.high) - (position < 0 ? Number(partition.low) : position);
        }
      }
      view.lagRecords = lag;
    }
  }

  /**
   * Everything written so far has reached the stores: each relay has been reading for a while and relayed nothing new
   * for `quietMs`, and no sink has records left to consume.
   */
  drained(quietMs: number, now = Date.now()): boolean {
    const relaysQuiet = [...this.streams.values()].every(
      (view) => view.running && !view.snapshotRunning && (view.runningSince ?? now) <= now - quietMs && view.changedAt <= now - quietMs,
    );
    return relaysQuiet && [...this.sinks.values()].every((view) => view.lagRecords === 0);
  }

  /**
   * Changes whenever the pipeline moved: an event relayed, a record consumed (applied, stale or dead-lettered), a batch
   * given up on, or a sink's lag changed. Failed invocations are not progress.
   */
  progress(): string {
    const streams = [...this.streams.values()].map((view) => `${view.eventsRelayed}:${view.snapshot ?? ''}`);
    const sinks = [...this.sinks.values()].map((view) => `${view.records}:${view.onFailure}:${view.lagRecords ?? '-'}`);
    return [...streams, ...sinks].join('|');
  }

  toJSON() {
    return { streams: [...this.streams.values()], sinks: [...this.sinks.values()] };
  }

  render(header: string): string {
    const seconds = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(1)} s`);
    const lines = [header, '', 'stream            relayed   lag       checkpoint age  invocations  state'];
    for (const view of this.streams.values()) {
      const state = view.stalled
        ? `STALLED ${view.stalled}`
        : view.heldBy
          ? `not relaying: another pipeline holds this stream (${view.heldBy})`
          : view.lastError
            ? `error: ${view.lastError}`
            : view.running
              ? 'relaying'
              : 'waiting for schedule';
      lines.push(
        `${view.streamId.padEnd(17)} ${String(view.eventsRelayed).padStart(7)}   ${seconds(view.lagSeconds).padEnd(9)} ${seconds(view.checkpointAgeSeconds).padEnd(15)} ${String(view.invocations).padStart(11)}  ${state}`,
      );
    }
    for (const view of this.streams.values()) if (view.snapshot) lines.push(`snapshot of ${view.streamId}: ${view.snapshot}`);
    lines.push('', 'sink          applied   stale   dead-lettered  lag (records)  batches  failures  restarts  on-failure');
    for (const view of this.sinks.values()) {
      lines.push(
        `${view.sink.padEnd(12)} ${String(view.applied).padStart(8)} ${String(view.stale).padStart(7)} ${String(view.deadLettered).padStart(15)} ${String(view.lagRecords ?? '-').padStart(14)} ${String(view.invocations).padStart(8)} ${String(view.failures).padStart(9)} ${String(view.restarts).padStart(9)} ${String(view.onFailure).padStart(11)}${view.joining ? '  joining its consumer group (members of a killed run leave it within 30 s)' : ''}${view.lastError ? `  last error: ${view.lastError}` : ''}`,
      );
    }
    return lines.join('\n');
  }
}
