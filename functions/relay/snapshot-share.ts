/**
 * How an invocation divides its time between the live stream and a running snapshot. Between two live batches the
 * relay asks `copyAnother` before each snapshot chunk:
 *
 * - the first chunk after a live batch always runs, so a snapshot progresses under any live load;
 * - more chunks run while the snapshot has had less than its `share` of the time both used in this invocation (a
 *   live stream that takes long batches owes the snapshot a longer turn), or while the live stream is quiet;
 * - never once the snapshot's turn has lasted `maxPauseMs`: a live change waits at most that, plus one chunk, plus
 *   its own batch, whatever the snapshot's deficit.
 *
 * Pure bookkeeping: the caller measures the time each side took and says whether the last live batch was empty.
 */
export interface ShareSettings {
  /** The fraction (0 to 1) of the invocation's working time the snapshot is owed while the live stream is busy. */
  readonly share: number;
  /** The longest turn the snapshot may take between two live batches (it may finish the chunk it started). */
  readonly maxPauseMs: number;
}

export interface SnapshotTurn {
  /** Chunks copied since the last live batch. */
  readonly chunks: number;
  /** Time those chunks took. */
  readonly ms: number;
  /** The last live batch held no event: nothing waits to be relayed. */
  readonly liveQuiet: boolean;
}

export class SnapshotShare {
  private liveMs = 0;
  private snapshotMs = 0;

  constructor(private readonly settings: ShareSettings) {
    if (!(settings.share > 0 && settings.share < 1)) throw new RangeError(`share must be between 0 and 1 (exclusive), got ${settings.share}`);
    if (!(settings.maxPauseMs >= 0)) throw new RangeError(`maxPauseMs must not be negative, got ${settings.maxPauseMs}`);
  }

  /** Time the live stream took: waiting for its batch, producing it and saving the checkpoint. */
  liveTook(ms: number): void {
    this.liveMs += Math.max(0, ms);
  }

  /** Time one snapshot chunk took. */
  snapshotTook(ms: number): void {
    this.snapshotMs += Math.max(0, ms);
  }

  /** Whether the snapshot copies another chunk before the next live batch. */
  copyAnother(turn: SnapshotTurn): boolean {
    if (turn.chunks === 0) return true;
    if (turn.ms >= this.settings.maxPauseMs) return false;
    if (turn.liveQuiet) return true;
    return this.snapshotMs < this.settings.share * (this.liveMs + this.snapshotMs);
  }

  /** What each side used so far, for the invocation's log line. */
  get used(): { liveMs: number; snapshotMs: number } {
    return { liveMs: this.liveMs, snapshotMs: this.snapshotMs };
  }

  /** The snapshot's part of the time both sides used so far (0 before any). */
  get snapshotFraction(): number {
    const total = this.liveMs + this.snapshotMs;
    return total === 0 ? 0 : this.snapshotMs / total;
  }
}
