import { describe, expect, it } from 'vitest';
import { snapshotReadMode, snapshotReadModeFromEnv } from './snapshot-read-mode';

const entry = { file: '/bundle/relay-worker.js', execArgv: [] };
const found = () => entry;
const missing = () => undefined;

describe('SNAPSHOT_READ_THREAD', () => {
  it('auto reads on a thread of its own only where there is a second vCPU', () => {
    expect(snapshotReadMode('auto', 2, found).entry).toBe(entry);
    expect(snapshotReadMode('auto', 1, found).entry).toBeUndefined();
    expect(snapshotReadMode('on', 1, found).entry).toBe(entry);
    expect(snapshotReadMode('off', 4, found).entry).toBeUndefined();
  });

  it('auto reads on the producing thread where the thread module is missing; on refuses to start, naming the variable', () => {
    expect(snapshotReadMode('auto', 2, missing).entry).toBeUndefined();
    expect(() => snapshotReadMode('on', 2, missing)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('SNAPSHOT_READ_THREAD') }));
  });

  it('is validated at start-up, naming the variable', () => {
    expect(() => snapshotReadModeFromEnv({ SNAPSHOT_READ_THREAD: 'sometimes' })).toThrow(/environment variable SNAPSHOT_READ_THREAD/);
    expect(snapshotReadModeFromEnv({}).setting).toBe('auto');
    expect(snapshotReadModeFromEnv({ SNAPSHOT_READ_THREAD: 'off' }).entry).toBeUndefined();
  });

  it('finds the thread module beside its source under the test runner', () => {
    expect(snapshotReadModeFromEnv({ SNAPSHOT_READ_THREAD: 'on' }).entry?.file).toMatch(/relay-worker\.ts$/);
  });
});
