import { inScope, splitNamespace } from '../../functions/relay/snapshot-scope';
import { newSnapshotId } from '../../functions/relay/snapshot-step';
import type { SnapshotRecord, SnapshotRun } from '../../functions/relay/snapshot-store';
import { CdcError } from '../../shared/errors';
import type { OpsContext } from './ops-context';
import { explainFailure, UsageError } from './ops-errors';

/** A snapshot as an operator sees it: what runs now (with rate and ETA), what waits, and what finished. */
export interface SnapshotStatus {
  readonly running?: {
    readonly id: string;
    readonly by: string;
    readonly namespace: string;
    readonly copied: number;
    readonly estimated: number;
    readonly startedAt: string;
    /** Documents per second since the snapshot started. */
    readonly rate: number;
    readonly etaSeconds?: number;
  };
  readonly requested?: { readonly id: string; readonly by: string; readonly at: string; readonly namespace?: string };
  readonly runs: readonly SnapshotRun[];
}

export function describeSnapshot(record: SnapshotRecord, now: Date): SnapshotStatus {
  const progress = record.running;
  const status: SnapshotStatus = { runs: record.runs, ...(record.request ? { requested: record.request } : {}) };
  if (!progress) return status;
  const elapsed = Math.max(0.001, (now.getTime() - Date.parse(progress.startedAt)) / 1000);
  const rate = progress.copied / elapsed;
  const remaining = Math.max(0, progress.estimated - progress.copied);
  return {
    ...status,
    running: {
      id: progress.id,
      by: progress.by,
      namespace: progress.namespaces[progress.current] ?? progress.namespaces.at(-1) ?? '-',
      copied: progress.copied,
      estimated: progress.estimated,
      startedAt: progress.startedAt,
      rate,
      ...(rate > 0 ? { etaSeconds: remaining / rate } : {}),
    },
  };
}

const duration = (seconds: number) =>
  seconds < 120 ? `${seconds.toFixed(0)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;

/** One line for a running snapshot: namespace, copied of estimated, rate, ETA. */
export function snapshotProgressLine(running: NonNullable<SnapshotStatus['running']>): string {
  const eta = running.etaSeconds === undefined ? 'ETA unknown' : `ETA ${duration(running.etaSeconds)}`;
  return `${running.namespace}: ${running.copied} of ~${running.estimated} copied, ${running.rate.toFixed(0)}/s, ${eta}`;
}

/** The status block's snapshot rows (two-space indent, 16-wide labels, as the rest of `status`). */
export function renderSnapshotRows(status: SnapshotStatus | undefined): string[] {
  if (!status) return [];
  const rows: string[] = [];
  const row = (label: string, value: string) => rows.push(`  ${label.padEnd(16)} ${value}`);
  if (status.running) row('snapshot', `${status.running.id} by ${status.running.by}: ${snapshotProgressLine(status.running)}`);
  if (status.requested) {
    row('snapshot asked', `${status.requested.id} by ${status.requested.by} at ${status.requested.at}${status.requested.namespace ? ` (${status.requested.namespace})` : ''}; starts at the next run`);
  }
  for (const run of status.runs) {
    row('snapshot run', `${run.id} by ${run.by}${run.namespace ? ` (${run.namespace})` : ''}: ${run.documents} documents, asked ${run.requestedAt}, finished ${run.finishedAt}`);
  }
  return rows;
}

export async function readSnapshotStatus(context: OpsContext, streamId: string, now = new Date()): Promise<SnapshotStatus> {
  const record = await context.snapshots()
    .readSnapshots(streamId)
    .catch((error: unknown) => Promise.reject(explainFailure(error, `dynamodb:GetItem on table ${context.controlTable()}`)));
  return describeSnapshot(record, now);
}

export interface SnapshotCommand {
  readonly streamId: string;
  readonly namespace?: string | undefined;
  readonly by?: string | undefined;
}

/**
 * Asks the stream's relay for a (re-)snapshot: of every namespace it watches, or of one. The relay starts it at its next
 * run and copies between live batches. Refused while another snapshot is requested or running.
 */
export async function requestSnapshot(context: OpsContext, command: SnapshotCommand, now = new Date()): Promise<SnapshotStatus> {
  if (command.namespace !== undefined) {
    try {
      splitNamespace(command.namespace);
    } catch {
      throw new UsageError(`--namespace must be "db.collection", got ${JSON.stringify(command.namespace)}`);
    }
    if (context.streamsConfigured()) {
      const stream = context.stream(command.streamId);
      const [db, coll] = splitNamespace(command.namespace);
      if (!inScope(stream, db, coll)) throw new UsageError(`stream "${stream.id}" does not watch ${command.namespace}`);
    }
  } else if (context.streamsConfigured()) {
    context.stream(command.streamId);
  }
  const request = {
    id: newSnapshotId(now),
    by: context.operator(command.by),
    at: now.toISOString(),
    ...(command.namespace ? { namespace: command.namespace } : {}),
  };
  await context.snapshots()
    .requestSnapshot(command.streamId, request)
    .catch((error: unknown) => {
      if (error instanceof CdcError && error.code === 'SNAPSHOT_RUNNING') throw error;
      throw explainFailure(error, `dynamodb:UpdateItem on table ${context.controlTable()}`);
    });
  return readSnapshotStatus(context, command.streamId, now);
}
