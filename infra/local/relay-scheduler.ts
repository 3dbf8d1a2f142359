import type { Context } from 'aws-lambda';
import type { RelayOutcome } from '../../functions/relay/relay-stream';
import { LocalContext } from './lambda-context';

export type RelayHandler = (input: { streamId: string }, context: Context) => Promise<unknown>;

export interface RelayInvocationReport {
  readonly streamId: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly outcome?: RelayOutcome;
  readonly error?: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });

/**
 * One stream's relay as EventBridge and Lambda run it: an invocation per schedule tick with the function's timeout as
 * its budget. A tick that finds the previous invocation still running is throttled (reserved concurrency 1), and
 * Lambda retries a throttled asynchronous event after about a second, which is what happens here.
 */
export class RelayScheduler {
  private readonly stopping = new AbortController();
  private current: LocalContext | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly streamId: string,
    private readonly handler: RelayHandler,
    private readonly scheduleMs: number,
    private readonly timeoutMs: number,
    private readonly report: (invocation: RelayInvocationReport) => void,
    private readonly started: (streamId: string) => void = () => undefined,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let tick = Date.now();
    while (!this.stopping.signal.aborted) {
      await this.invoke();
      tick += this.scheduleMs;
      const now = Date.now();
      if (now >= tick) {
        // Missed ticks while running were throttled; the retry of the newest runs about a second later.
        tick += Math.floor((now - tick) / this.scheduleMs) * this.scheduleMs;
        await sleep(1_000, this.stopping.signal);
      } else {
        await sleep(tick - now, this.stopping.signal);
      }
    }
  }

  private async invoke(): Promise<void> {
    const local = new LocalContext(`mongo-cdc-local-relay-${this.streamId}`, this.timeoutMs);
    this.current = local;
    const startedAt = Date.now();
    this.started(this.streamId);
    try {
      const outcome = (await this.handler({ streamId: this.streamId }, local.context)) as RelayOutcome;
      this.report({ streamId: this.streamId, startedAt, durationMs: Date.now() - startedAt, outcome });
    } catch (error) {
      this.report({ streamId: this.streamId, startedAt, durationMs: Date.now() - startedAt, error: (error as Error).message });
      // A failed invocation is retried by the next tick, as the schedule would; do not spin on a persistent failure.
    } finally {
      this.current = undefined;
    }
  }

  /** Ends the running invocation at its next batch boundary (checkpoint saved, lease released) and stops scheduling. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.current?.cut();
    await this.loop;
  }
}
