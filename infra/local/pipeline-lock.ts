import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { isAlive } from '../stack/process-control';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

/** Another `npm start` holds the pipeline: which process, so the user can find it. */
export class PipelineAlreadyRunning extends Error {
  constructor(
    readonly holder: LockHolder,
    lockPath: string,
  ) {
    super(
      `a local pipeline is already running (pid ${holder.pid}, started ${holder.startedAt}; lock ${lockPath}): ` +
        `stop it first (Ctrl-C in its terminal, or kill ${holder.pid}), or give this one its own STACK_STATE_DIR and services`,
    );
    this.name = 'PipelineAlreadyRunning';
  }
}

function readHolder(path: string): { text: string; holder: LockHolder | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return { text, holder: JSON.parse(text) as LockHolder };
  } catch {
    // A holder killed between creating and writing the file: treat as abandoned.
    return { text, holder: undefined };
  }
}

const errno = (error: unknown) => (error as NodeJS.ErrnoException).code;

/**
 * One local pipeline per state directory. The lock file is created atomically (a hard link of a fully written file,
 * which fails when the lock exists), so of two starts at the same moment exactly one wins. A lock left by a process
 * that is gone (SIGKILL, power loss) is moved aside atomically and taken over.
 */
export function acquirePipelineLock(path: string, now: () => Date = () => new Date()): { release(): void } {
  mkdirSync(dirname(path), { recursive: true });
  const mine: LockHolder = { pid: process.pid, host: hostname(), startedAt: now().toISOString() };
  const text = `${JSON.stringify(mine)}\n`;
  const draft = `${path}.${process.pid}.draft`;
  writeFileSync(draft, text);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(draft, path);
        return {
          release: () => {
            // Only our own lock: a taken-over stale lock is someone else's now.
            if (readHolder(path)?.text === text) rmSync(path, { force: true });
          },
        };
      } catch (error) {
        if (errno(error) !== 'EEXIST') throw error;
      }
      const current = readHolder(path);
      if (!current) continue;
      const { holder } = current;
      if (holder && (holder.host !== mine.host || isAlive(holder.pid))) {
        // A holder on another host sharing this folder cannot be checked: assume it runs.
        throw new PipelineAlreadyRunning(holder, path);
      }
      const aside = `${path}.${process.pid}.stale`;
      try {
        renameSync(path, aside);
      } catch (error) {
        if (errno(error) === 'ENOENT') continue;
        throw error;
      }
      const moved = readHolder(aside);
      if (moved && moved.text !== current.text) {
        // Another start replaced the stale lock between our read and the move: give its lock back.
        try {
          linkSync(aside, path);
        } catch (error) {
          if (errno(error) !== 'EEXIST') throw error;
        }
      }
      rmSync(aside, { force: true });
    }
    throw new Error(`could not take the pipeline lock ${path}: it kept changing hands`);
  } finally {
    rmSync(draft, { force: true });
  }
}
