import { describe, expect, it } from 'vitest';
import { inPool } from './in-pool';

describe('in pool', () => {
  it('runs every item, at most the limit at once, starting them in order', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    await inPool([0, 1, 2, 3, 4, 5, 6], 3, async (item, index) => {
      expect(index).toBe(item);
      started.push(item);
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
    });
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it('starts nothing more after a failure, waits for the tasks running, then throws the first failure', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const failure = inPool([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (item === 0) throw new Error('first');
      if (item === 1) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        finished.push(item);
        throw new Error('second');
      }
      finished.push(item);
    });
    await expect(failure).rejects.toThrow('first');
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
  });
});
