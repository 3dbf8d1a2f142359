import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquirePipelineLock, PipelineAlreadyRunning } from './pipeline-lock';

describe('the pipeline lock', () => {
  const dirs: string[] = [];
  const lockIn = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-lock-'));
    dirs.push(dir);
    return join(dir, 'run', 'pipeline.lock');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second holder while the first lives, naming its pid, and is free again once released', () => {
    const path = lockIn();
    const first = acquirePipelineLock(path);
    const refused = (() => {
      try {
        acquirePipelineLock(path);
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(PipelineAlreadyRunning);
    expect((refused as Error).message).toContain(`pid ${process.pid}`);
    first.release();
    acquirePipelineLock(path).release();
  });

  it('takes over a lock whose holder is gone (killed without releasing it)', () => {
    const path = lockIn();
    // A pid that existed and ended: a finished child's.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    acquirePipelineLock(path);
    writeFileSync(path, JSON.stringify({ pid: gone, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const taken = acquirePipelineLock(path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    taken.release();
  });

  it('takes over a lock file left empty by a holder killed while writing it', () => {
    const path = lockIn();
    acquirePipelineLock(path);
    writeFileSync(path, '');
    expect(() => acquirePipelineLock(path).release()).not.toThrow();
  });
});
