import { describe, expect, it } from 'vitest';
import { SnapshotShare, type SnapshotTurn } from './snapshot-share';

/**
 * Plays an invocation against the rule: live batches of `liveMs` each (quiet or busy), chunks of `chunkMs` each, for
 * `totalMs` of simulated time. Returns the snapshot's part of the time and the longest pause of the live stream.
 */
function play(options: { share: number; maxPauseMs: number; liveMs: number; chunkMs: number; totalMs: number; quiet?: boolean }) {
  const rule = new SnapshotShare({ share: options.share, maxPauseMs: options.maxPauseMs });
  let clock = 0;
  let snapshotMs = 0;
  let longestPause = 0;
  let turns = 0;
  while (clock < options.totalMs) {
    clock += options.liveMs;
    rule.liveTook(options.liveMs);
    const turn = { chunks: 0, ms: 0, liveQuiet: options.quiet ?? false };
    while (rule.copyAnother(turn)) {
      clock += options.chunkMs;
      snapshotMs += options.chunkMs;
      rule.snapshotTook(options.chunkMs);
      Object.assign(turn, { chunks: turn.chunks + 1, ms: turn.ms + options.chunkMs } satisfies Partial<SnapshotTurn>);
    }
    longestPause = Math.max(longestPause, turn.ms);
    turns++;
  }
  return { fraction: snapshotMs / clock, longestPause, turns, reported: rule.snapshotFraction };
}

describe('snapshot share between live batches and chunks', () => {
  it('copies one chunk after every live batch, even when live batches are far longer than chunks', () => {
    const rule = new SnapshotShare({ share: 0.1, maxPauseMs: 1_000 });
    rule.liveTook(60_000);
    expect(rule.copyAnother({ chunks: 0, ms: 0, liveQuiet: false })).toBe(true);
  });

  it('gives a busy live stream back its turn once the snapshot had its share', () => {
    const rule = new SnapshotShare({ share: 0.5, maxPauseMs: 10_000 });
    rule.liveTook(300);
    rule.snapshotTook(200);
    expect(rule.copyAnother({ chunks: 1, ms: 200, liveQuiet: false })).toBe(true);
    rule.snapshotTook(200);
    expect(rule.copyAnother({ chunks: 2, ms: 400, liveQuiet: false })).toBe(false);
  });

  it('reaches its share under a sustained live load when the pause bound allows it', () => {
    const result = play({ share: 0.5, maxPauseMs: 1_000, liveMs: 400, chunkMs: 100, totalMs: 60_000 });
    expect(result.fraction).toBeGreaterThanOrEqual(0.45);
    expect(result.fraction).toBeLessThanOrEqual(0.55);
    expect(result.reported).toBeCloseTo(result.fraction, 5);
  });

  it('keeps every pause of the live stream under the bound plus one chunk, even when the snapshot is owed more', () => {
    const result = play({ share: 0.9, maxPauseMs: 500, liveMs: 2_000, chunkMs: 150, totalMs: 60_000 });
    expect(result.longestPause).toBeLessThan(500 + 150);
    expect(result.longestPause).toBeGreaterThanOrEqual(500);
    // Bounded pauses cap the share: 600 ms of chunks after each 2 s live batch.
    expect(result.fraction).toBeCloseTo(600 / 2_600, 2);
  });

  it('still copies one chunk per live batch when a single chunk outlasts the pause bound', () => {
    const result = play({ share: 0.5, maxPauseMs: 100, liveMs: 200, chunkMs: 300, totalMs: 10_000 });
    expect(result.longestPause).toBe(300);
    expect(result.fraction).toBeCloseTo(300 / 500, 2);
  });

  it('copies until the pause bound while the live stream is quiet, whatever the share', () => {
    const result = play({ share: 0.1, maxPauseMs: 1_000, liveMs: 200, chunkMs: 100, totalMs: 30_000, quiet: true });
    expect(result.longestPause).toBe(1_000);
    expect(result.fraction).toBeCloseTo(1_000 / 1_200, 2);
  });

  it('refuses a share outside (0, 1) and a negative pause bound', () => {
    expect(() => new SnapshotShare({ share: 0, maxPauseMs: 1_000 })).toThrow(/share must be between 0 and 1/);
    expect(() => new SnapshotShare({ share: 1, maxPauseMs: 1_000 })).toThrow(/share must be between 0 and 1/);
    expect(() => new SnapshotShare({ share: 0.5, maxPauseMs: -1 })).toThrow(/maxPauseMs must not be negative/);
  });
});
