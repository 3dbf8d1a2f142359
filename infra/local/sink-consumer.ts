import type { Context } from 'aws-lambda';
import type { Consumer, Kafka } from 'kafkajs';
import { headersOf } from '../ops/topic-reader';
import { type LambdaKafkaEvent, lambdaKafkaEventOf } from '../../shared/lambda-kafka-event';
import type { SinkSummary } from '../../shared/sink-runner';
import { LocalContext } from './lambda-context';

export type SinkHandler = (event: LambdaKafkaEvent, context: Context) => Promise<SinkSummary>;

export interface SinkInvocationReport {
  readonly sink: string;
  readonly records: number;
  readonly durationMs: number;
  readonly summary?: SinkSummary;
  readonly error?: string;
}

export interface SinkTrigger {
  readonly sink: string;
  readonly topics: ReadonlyArray<string | RegExp>;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly timeoutMs: number;
}

const RETRY_CAP_MS = 30_000;

/**
 * A sink function as Lambda's Kafka event source mapping drives it: a consumer group reads batches of up to
 * `batchSize` records, waiting up to the batching window for them; each batch is one invocation with a
 * Lambda-Kafka-shaped event; offsets are committed only after the handler succeeded. A failed batch is retried with
 * backoff, in place and in order, as the event source mapping does; on shutdown it is abandoned uncommitted.
 */
export class SinkConsumer {
  private readonly consumer: Consumer;
  private stopping = false;

  constructor(
    kafka: Kafka,
    groupId: string,
    private readonly trigger: SinkTrigger,
    private readonly handler: SinkHandler,
    private readonly report: (invocation: SinkInvocationReport) => void,
  ) {
    // The broker holds each fetch until it has about a batch or the window passes: Lambda's batching window.
    this.consumer = kafka.consumer({ groupId, maxWaitTimeInMs: Math.max(10, trigger.batchingWindowMs), minBytes: 256 * 1024 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.trigger.topics], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (let start = 0; start < batch.messages.length; start += this.trigger.batchSize) {
          if (!isRunning() || isStale() || this.stopping) return;
          const chunk = batch.messages.slice(start, start + this.trigger.batchSize);
          const event = lambdaKafkaEventOf(
            chunk.map((message) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: Number(message.offset),
              key: message.key,
              value: message.value,
              headers: headersOf(message),
            })),
          );
          if (!(await this.invokeUntilDone(event, chunk.length, heartbeat))) return;
          const last = chunk[chunk.length - 1];
          if (!last) continue;
          resolveOffset(last.offset);
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
          await heartbeat();
        }
      },
    });
  }

  /** True once the handler succeeded; false when shutdown came first (the batch stays uncommitted). */
  private async invokeUntilDone(event: LambdaKafkaEvent, records: number, heartbeat: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; !this.stopping; attempt++) {
      const local = new LocalContext(`mongo-cdc-local-sink-${this.trigger.sink}`, this.trigger.timeoutMs);
      const started = Date.now();
      try {
        const summary = await this.handler(event, local.context);
        this.report({ sink: this.trigger.sink, records, durationMs: Date.now() - started, summary });
        return true;
      } catch (error) {
        this.report({ sink: this.trigger.sink, records, durationMs: Date.now() - started, error: (error as Error).message });
        const waitMs = Math.min(RETRY_CAP_MS, 500 * 2 ** attempt);
        for (let waited = 0; waited < waitMs && !this.stopping; waited += 500) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          await heartbeat().catch(() => undefined);
        }
      }
    }
    return false;
  }

  /** Lets the invocation in flight finish (its batch is committed only if it succeeded), then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
  }
}
