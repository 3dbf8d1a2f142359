import { openChangeSource } from '../../functions/relay/change-source';
import type { Checkpoint } from '../../functions/relay/checkpoint-store';
import { checkReplayFrom, parseOperatorTime, planReset, type RequestWording } from '../../functions/relay/operator-requests';
import { classifyMongoError } from '../../shared/mongo-errors';
import { resumeTokenText } from '../../shared/stream-position';
import type { OpsContext } from './ops-context';
import { explainFailure, UsageError } from './ops-errors';
import { readSnapshotStatus, renderSnapshotRows, type SnapshotStatus } from './snapshot-commands';

export interface StreamStatus {
  readonly streamId: string;
  readonly watches: string;
  readonly state: 'never run' | 'relaying' | 'idle' | 'stalled' | 'stopped';
  readonly resume?: { kind: string; token?: string; from?: string };
  readonly lastEvent?: { clusterTime: string; at: string };
  readonly checkpointUpdatedAt?: string;
  readonly checkpointAgeSeconds?: number;
  readonly eventsRelayed: number;
  readonly lease?: { holder: string; epoch: number; expiresAt: string; live: boolean };
  readonly stalled?: Checkpoint['stalled'];
  readonly stopped?: Checkpoint['stopped'];
  readonly gaps: Checkpoint['gaps'];
  readonly replays: Checkpoint['replays'];
  /** Running, requested and finished snapshots (see snapshot-commands.ts). */
  readonly snapshot?: SnapshotStatus;
}

/** The CLI's words for the shared operator rules (functions/relay/operator-requests.ts). */
const CLI_WORDING: RequestWording = { to: '--to', from: '--from', force: 'Pass --force', replay: 'use "replay --from"', reset: 'use "reset --to"' };

type StreamRef = { id: string; database?: string | undefined; collection?: string | undefined; configured?: boolean };

function watchedBy(stream: StreamRef): string {
  if (stream.configured === false) return 'not in CDC_STREAMS';
  if (stream.database && stream.collection) return `${stream.database}.${stream.collection}`;
  return stream.database ? `database ${stream.database}` : 'whole deployment';
}

function stateOf(checkpoint: Checkpoint | undefined, nowMs: number): StreamStatus['state'] {
  if (!checkpoint) return 'never run';
  if (checkpoint.stalled) return 'stalled';
  if (checkpoint.stopped) return 'stopped';
  return checkpoint.lease && checkpoint.lease.expiresAt > nowMs ? 'relaying' : 'idle';
}

export function describeStream(
  stream: StreamRef,
  checkpoint: Checkpoint | undefined,
  now: Date,
): StreamStatus {
  const nowMs = now.getTime();
  const status: StreamStatus = {
    streamId: stream.id,
    watches: watchedBy(stream),
    state: stateOf(checkpoint, nowMs),
    eventsRelayed: checkpoint?.eventsRelayed ?? 0,
    gaps: checkpoint?.gaps ?? [],
    replays: checkpoint?.replays ?? [],
  };
  if (!checkpoint) return status;
  const resume = checkpoint.resume;
  return {
    ...status,
    resume:
      resume.kind === 'resumeAfter' || resume.kind === 'startAfter'
        ? { kind: resume.kind, token: resumeTokenText(resume.token) }
        : resume.kind === 'startAtOperationTime'
          ? { kind: resume.kind, from: new Date(resume.seconds * 1000).toISOString() }
          : { kind: resume.kind },
    ...(checkpoint.lastEvent
      ? {
          lastEvent: {
            clusterTime: `${checkpoint.lastEvent.seconds}.${checkpoint.lastEvent.increment}`,
            at: new Date(checkpoint.lastEvent.seconds * 1000).toISOString(),
          },
        }
      : {}),
    ...(checkpoint.updatedAt
      ? { checkpointUpdatedAt: checkpoint.updatedAt, checkpointAgeSeconds: Math.max(0, (nowMs - Date.parse(checkpoint.updatedAt)) / 1000) }
      : {}),
    ...(checkpoint.lease
      ? {
          lease: {
            holder: checkpoint.lease.owner,
            epoch: checkpoint.lease.epoch,
            expiresAt: new Date(checkpoint.lease.expiresAt).toISOString(),
            live: checkpoint.lease.expiresAt > nowMs,
          },
        }
      : {}),
    ...(checkpoint.stalled ? { stalled: checkpoint.stalled } : {}),
    ...(checkpoint.stopped ? { stopped: checkpoint.stopped } : {}),
  };
}

export async function streamStatus(context: OpsContext, only: string | undefined, now = new Date()): Promise<StreamStatus[]> {
  const store = context.checkpoints();
  let streams: StreamRef[];
  if (context.streamsConfigured()) {
    streams = only ? [context.stream(only)] : context.streams();
  } else {
    // A deployed relay knows only its own stream; the control table knows them all.
    const ids = only
      ? [only]
      : await store.streamIds().catch((error: unknown) => Promise.reject(explainFailure(error, `dynamodb:Scan on table ${context.controlTable()}`)));
    streams = ids.map((id) => ({ id, configured: false }));
  }
  const statuses: StreamStatus[] = [];
  for (const stream of streams) {
    const checkpoint = await store
      .read(stream.id)
      .catch((error: unknown) => Promise.reject(explainFailure(error, `dynamodb:GetItem on table ${context.controlTable()}`)));
    const snapshot = checkpoint ? await readSnapshotStatus(context, stream.id, now) : undefined;
    statuses.push({ ...describeStream(stream, checkpoint, now), ...(snapshot ? { snapshot } : {}) });
  }
  return statuses;
}

export interface ResetRequest {
  readonly streamId: string;
  readonly to: string | undefined;
  readonly by?: string | undefined;
  readonly force?: boolean;
}

/**
 * Restarts a stream from now or a time, recording the gap: every change between the last relayed event and the new
 * start is skipped. A healthy stream is only reset with `force`, because the gap is data its sinks will never see.
 */
export async function resetStream(context: OpsContext, request: ResetRequest, now = new Date()): Promise<StreamStatus> {
  // A reset only touches the control table, so it works without CDC_STREAMS (the checkpoint must exist either way).
  const stream: StreamRef = context.streamsConfigured() ? context.stream(request.streamId) : { id: request.streamId, configured: false };
  const store = context.checkpoints();
  const attempted = `dynamodb:GetItem/UpdateItem on table ${context.controlTable()}`;
  const checkpoint = await store.read(stream.id).catch((error: unknown) => Promise.reject(explainFailure(error, attempted)));
  const target = planReset(checkpoint, { streamId: stream.id, to: request.to, force: request.force }, now, CLI_WORDING);
  await store.reset(stream.id, target, context.operator(request.by), now).catch((error: unknown) => Promise.reject(explainFailure(error, attempted)));
  return describeStream(stream, await store.read(stream.id), now);
}

export interface ReplayRequest {
  readonly streamId: string;
  readonly from: string | undefined;
  readonly by?: string | undefined;
  /** Skip asking MongoDB whether its oplog still holds `from` (when the CLI cannot reach MongoDB). */
  readonly skipOplogCheck?: boolean;
}

/**
 * Asks MongoDB for the stream's changes from `from`: a server whose oplog no longer reaches back that far answers
 * ChangeStreamHistoryLost, which is exactly what the relay would hit after the replay.
 */
async function assertOplogHolds(context: OpsContext, streamId: string, from: Date): Promise<void> {
  const stream = context.stream(streamId);
  const client = await context.mongo(stream);
  const source = openChangeSource(
    client,
    stream,
    { kind: 'startAtOperationTime', seconds: Math.floor(from.getTime() / 1000), increment: 0 },
    1,
  );
  try {
    await source.tryNext();
  } catch (error) {
    if (classifyMongoError(error).kind === 'history-lost') {
      throw new UsageError(`MongoDB's oplog no longer holds ${from.toISOString()}: replay can only go back as far as the oplog window`);
    }
    throw explainFailure(error, `a change stream on ${watchedBy(stream)} (MongoDB)`);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Moves a stream back to `from`; the next invocation re-relays from there, and the sinks absorb what they have seen. */
export async function replayStream(context: OpsContext, request: ReplayRequest, now = new Date()): Promise<StreamStatus> {
  if (!context.streamsConfigured() && !request.skipOplogCheck) {
    throw new UsageError("replay asks MongoDB whether its oplog still holds --from, which needs the stream's settings: set CDC_STREAMS (or pass --no-oplog-check)");
  }
  const stream: StreamRef = context.streamsConfigured() ? context.stream(request.streamId) : { id: request.streamId, configured: false };
  const from = parseOperatorTime('--from', request.from, now);
  const store = context.checkpoints();
  const attempted = `dynamodb:GetItem/UpdateItem on table ${context.controlTable()}`;
  const checkpoint = await store.read(stream.id).catch((error: unknown) => Promise.reject(explainFailure(error, attempted)));
  checkReplayFrom(checkpoint, from, CLI_WORDING);
  if (!request.skipOplogCheck) await assertOplogHolds(context, stream.id, from);
  await store.replay(stream.id, from, context.operator(request.by), now).catch((error: unknown) => Promise.reject(explainFailure(error, attempted)));
  return describeStream(stream, await store.read(stream.id), now);
}

const ago = (seconds: number) => (seconds < 120 ? `${seconds.toFixed(1)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`);

/** Human-readable status, one block per stream; `--json` prints the objects instead. */
export function renderStatus(statuses: readonly StreamStatus[]): string {
  const blocks = statuses.map((status) => {
    const lines = [`stream ${status.streamId} (${status.watches}): ${status.state.toUpperCase()}`];
    const row = (label: string, value: string) => lines.push(`  ${label.padEnd(16)} ${value}`);
    if (status.resume) {
      row('resume', status.resume.token ? `${status.resume.kind} ${status.resume.token}` : `${status.resume.kind}${status.resume.from ? ` ${status.resume.from}` : ''}`);
    }
    row('last event', status.lastEvent ? `${status.lastEvent.at} (cluster time ${status.lastEvent.clusterTime})` : 'none yet');
    if (status.checkpointUpdatedAt !== undefined && status.checkpointAgeSeconds !== undefined) {
      row('checkpoint age', `${ago(status.checkpointAgeSeconds)} (saved ${status.checkpointUpdatedAt})`);
    }
    row('events relayed', String(status.eventsRelayed));
    if (status.lease) {
      row('lease', `${status.lease.live ? 'held' : 'expired'}: ${status.lease.holder}, epoch ${status.lease.epoch}, until ${status.lease.expiresAt}`);
    } else if (status.state !== 'never run') {
      row('lease', 'free');
    }
    if (status.stalled) row('STALLED', `${status.stalled.code}: ${status.stalled.reason} (since ${status.stalled.at})`);
    if (status.stopped) row('STOPPED', `${status.stopped.reason} (since ${status.stopped.at})`);
    for (const gap of status.gaps) row('gap', `${gap.from ?? 'start'} -> ${gap.to}, reset by ${gap.by} at ${gap.at}`);
    for (const replay of status.replays) row('replay', `from ${replay.from}, by ${replay.by} at ${replay.at}`);
    lines.push(...renderSnapshotRows(status.snapshot));
    return lines.join('\n');
  });
  return blocks.join('\n\n');
}
