import { usableCpus } from '../../shared/cpu-budget';
import { parseEnv } from '../../shared/env-config';
import { CdcError } from '../../shared/errors';
import type { WorkerEntry } from '../../shared/worker-thread';
import { relayEnvShape } from './relay-config';
import { snapshotReadWorkerEntry } from './thread-chunk-reader';

export type SnapshotReadThreadSetting = 'auto' | 'on' | 'off';

/** Whether snapshot chunks are read and encoded on a thread of their own, and why: what the relay logs at start-up. */
export interface SnapshotReadMode {
  readonly setting: SnapshotReadThreadSetting;
  /** The reading thread's module when chunks are read on it; undefined when they are read on the producing thread. */
  readonly entry: WorkerEntry | undefined;
  readonly vcpus: number;
}

/**
 * SNAPSHOT_READ_THREAD resolved: `auto` takes the thread where more than one vCPU's worth of CPU is usable (in Lambda,
 * above 1,769 MB: see usableCpus; with less, two threads
 * would only take turns on it, and the thread costs memory); `on` insists, and fails at start-up, naming the variable,
 * where the thread's module is missing (a bundle built without it).
 */
export function snapshotReadMode(
  setting: SnapshotReadThreadSetting,
  vcpus: number = usableCpus(),
  findEntry: () => WorkerEntry | undefined = snapshotReadWorkerEntry,
): SnapshotReadMode {
  const entry = setting === 'off' ? undefined : findEntry();
  if (setting === 'on' && !entry) {
    throw new CdcError('CONFIG_INVALID', 'SNAPSHOT_READ_THREAD is "on", but the snapshot reading thread\'s module is not beside the relay (a bundle built without it)');
  }
  const thread = setting === 'on' || (setting === 'auto' && vcpus > 1);
  return { setting, entry: thread ? entry : undefined, vcpus };
}

/** The log line's fields: the setting, what it resolved to, and the vCPUs it saw. */
export function describeReadMode(mode: SnapshotReadMode) {
  return { setting: mode.setting, readThread: mode.entry !== undefined, vcpus: mode.vcpus };
}

/** The mode from SNAPSHOT_READ_THREAD alone, for what wires the relay without the handler (tests, benchmarks). */
export function snapshotReadModeFromEnv(env: NodeJS.ProcessEnv = process.env): SnapshotReadMode {
  return snapshotReadMode(parseEnv({ SNAPSHOT_READ_THREAD: relayEnvShape.SNAPSHOT_READ_THREAD }, env).SNAPSHOT_READ_THREAD);
}
