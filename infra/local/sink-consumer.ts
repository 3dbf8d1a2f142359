import type { Context } from 'aws-lambda';
import type { Consumer, Kafka, Producer } from 'kafkajs';
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

/** What happened to the consumer itself (not to one invocation): shown by the status view. */
export interface ConsumerEvent {
  readonly sink: string;
  /**
   * joined: the consumer joined its group (at start, and after each rebalance); crashed: KafkaJS gave up on the
   * consumer; restarted: a new one runs; on-failure: a batch went to the on-failure topic.
   */
  readonly kind: 'joined' | 'crashed' | 'restarted' | 'on-failure';
  readonly detail: string;
}

export interface SinkTrigger {
  readonly sink: string;
  readonly topics: ReadonlyArray<string | RegExp>;
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  readonly timeoutMs: number;
  /** Failed invocations of one batch before it goes to the on-failure topic: the mapping's MaximumRetryAttempts. */
  readonly maxRetryAttempts: number;
  /** Where a batch that kept failing is described, as the mapping's on-failure destination (SQS) does in AWS. */
  readonly onFailureTopic: string;
}

const RETRY_CAP_MS = 30_000;
const RESTART_CAP_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A sink function as Lambda's Kafka event source mapping drives it: a consumer group reads batches of up to
 * `batchSize` records, waiting up to the batching window for them; each batch is one invocation with a
 * Lambda-Kafka-shaped event; offsets are committed only after the handler succeeded. A failed batch is retried with
 * backoff, in place and in order, up to `maxRetryAttempts` times; then a record describing it (topic, partition,
 * offsets, error) goes to the on-failure topic and the consumer moves on, as the mapping does with an on-failure
 * destination. When KafkaJS gives up on the consumer (a broker restart: "The coordinator is not aware of this member",
 * rebalance storms), a new consumer takes its place; uncommitted batches are read again.
 */
export class SinkConsumer {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private stopping = false;
  // Declared before `stopped`, whose executor replaces it (fields initialise in order).
  private resolveStopped: () => void = () => undefined;
  /** Resolved by stop(), so a restart waiting out its backoff ends at once instead of after up to RESTART_CAP_MS. */
  private readonly stopped = new Promise<void>((resolve) => {
    this.resolveStopped = resolve;
  });
  private restarting: Promise<void> | undefined;
  private generation = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly trigger: SinkTrigger,
    private readonly handler: SinkHandler,
    private readonly report: (invocation: SinkInvocationReport) => void,
    private readonly onEvent: (event: ConsumerEvent) => void = () => undefined,
  ) {}

  /**
   * Joins the group. A broker that does not answer does not fail the start: the consumer goes on trying, as it does
   * after a crash, so `npm start` restarted during a broker outage carries on once the broker is back.
   */
  async start(): Promise<void> {
    try {
      await this.launch();
    } catch (error) {
      // A programming error is not an outage: it must surface.
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      this.onEvent({ sink: this.trigger.sink, kind: 'crashed', detail: `start failed, retrying: ${(error as Error).message}` });
      this.restart();
    }
  }

  /**
   * Joins the group like start, but a consumer that cannot join (Kafka away) is reported and replaced with backoff
   * instead of failing the caller. Stop may come while it is joining: the join is abandoned.
   */
  async join(): Promise<void> {
    try {
      await this.launch();
    } catch (error) {
      if (this.stopping) return;
      this.onEvent({ sink: this.trigger.sink, kind: 'crashed', detail: `could not join group ${this.groupId}: ${(error as Error).message}` });
      this.restart();
    }
  }

  private async launch(): Promise<void> {
    const generation = ++this.generation;
    // The broker holds each fetch until it has about a batch or the window passes: Lambda's batching window.
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: Math.max(10, this.trigger.batchingWindowMs),
      minBytes: 256 * 1024,
      // KafkaJS's own restart after a crash, unless this consumer is stopping or was replaced: a join abandoned by
      // stop must not come back as a member nobody stops.
      retry: { retries: 5, restartOnFailure: async () => !this.stopping && generation === this.generation },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (generation !== this.generation || this.stopping) return;
      this.onEvent({ sink: this.trigger.sink, kind: 'joined', detail: `group ${this.groupId}, ${Object.keys(payload.memberAssignment).length} topic(s) assigned` });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (generation !== this.generation || this.stopping) return;
      this.onEvent({ sink: this.trigger.sink, kind: 'crashed', detail: `${payload.error.message}${payload.restart ? ' (KafkaJS restarts it)' : ''}` });
      // KafkaJS restarts the consumer itself after retriable errors; after the others it stops for good.
      if (!payload.restart) this.restart();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.trigger.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (let start = 0; start < batch.messages.length; start += this.trigger.batchSize) {
          if (!isRunning() || isStale() || this.stopping || generation !== this.generation) return;
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
          const first = chunk[0];
          const last = chunk[chunk.length - 1];
          if (!first || !last) continue;
          const where = { topic: batch.topic, partition: batch.partition, startOffset: first.offset, endOffset: last.offset, batchSize: chunk.length };
          if (!(await this.invokeUntilDone(event, where, heartbeat))) return;
          resolveOffset(last.offset);
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
          await heartbeat();
        }
      },
    });
  }

  /** Replaces a consumer KafkaJS gave up on, retrying with backoff while the broker is away. */
  private restart(): void {
    this.restarting ??= (async () => {
      const old = this.consumer;
      this.generation++;
      await old?.disconnect().catch(() => undefined);
      for (let attempt = 0; !this.stopping; attempt++) {
        await Promise.race([sleep(Math.min(RESTART_CAP_MS, 1_000 * 2 ** attempt)), this.stopped]);
        if (this.stopping) break;
        try {
          await this.launch();
          this.onEvent({ sink: this.trigger.sink, kind: 'restarted', detail: `consumer ${this.generation} joined group ${this.groupId}` });
          break;
        } catch (error) {
          await this.consumer?.disconnect().catch(() => undefined);
          this.onEvent({ sink: this.trigger.sink, kind: 'crashed', detail: `restart failed: ${(error as Error).message}` });
        }
      }
    })().finally(() => {
      this.restarting = undefined;
    });
  }

  /**
   * True once the handler succeeded or the batch went to the on-failure topic; false when shutdown came first or the
   * consumer was replaced (the batch stays uncommitted and is read again).
   */
  private async invokeUntilDone(
    event: LambdaKafkaEvent,
    where: { topic: string; partition: number; startOffset: string; endOffset: string; batchSize: number },
    heartbeat: () => Promise<void>,
  ): Promise<boolean> {
    const generation = this.generation;
    let lastError = '';
    for (let attempt = 0; !this.stopping && generation === this.generation; attempt++) {
      if (attempt > this.trigger.maxRetryAttempts) {
        if (await this.sendToOnFailure(where, attempt, lastError)) return true;
      } else {
        const local = new LocalContext(`mongo-cdc-local-sink-${this.trigger.sink}`, this.trigger.timeoutMs);
        const started = Date.now();
        try {
          const summary = await this.handler(event, local.context);
          this.report({ sink: this.trigger.sink, records: where.batchSize, durationMs: Date.now() - started, summary });
          return true;
        } catch (error) {
          lastError = (error as Error).message;
          this.report({ sink: this.trigger.sink, records: where.batchSize, durationMs: Date.now() - started, error: lastError });
        }
      }
      const waitMs = Math.min(RETRY_CAP_MS, 500 * 2 ** Math.min(attempt, 10));
      for (let waited = 0; waited < waitMs && !this.stopping && generation === this.generation; waited += 500) {
        await sleep(500);
        await heartbeat().catch(() => undefined);
      }
    }
    return false;
  }

  /** The on-failure record, shaped like the one Lambda sends to an SQS on-failure destination for a Kafka mapping. */
  private async sendToOnFailure(
    where: { topic: string; partition: number; startOffset: string; endOffset: string; batchSize: number },
    invocations: number,
    error: string,
  ): Promise<boolean> {
    const record = {
      requestContext: { functionArn: `local:mongo-cdc-sink-${this.trigger.sink}`, condition: 'RetryAttemptsExhausted', approximateInvokeCount: invocations },
      responseContext: { functionError: 'Unhandled', errorMessage: error },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KafkaBatchInfo: { ...where, consumerGroup: this.groupId },
    };
    try {
      if (!this.producer) {
        const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 3 } });
        await producer.connect();
        this.producer = producer;
      }
      await this.producer.send({
        topic: this.trigger.onFailureTopic,
        acks: -1,
        messages: [{ key: `${where.topic}-${where.partition}`, value: JSON.stringify(record), headers: { 'cdc-on-failure-sink': this.trigger.sink } }],
      });
    } catch (sendError) {
      await this.producer?.disconnect().catch(() => undefined);
      this.producer = undefined;
      this.onEvent({ sink: this.trigger.sink, kind: 'crashed', detail: `on-failure record not written, batch kept: ${(sendError as Error).message}` });
      return false;
    }
    this.onEvent({
      sink: this.trigger.sink,
      kind: 'on-failure',
      detail: `${where.topic}/${where.partition} offsets ${where.startOffset}..${where.endOffset} after ${invocations} invocations: ${error}`,
    });
    return true;
  }

  /** Lets the invocation in flight finish (its batch is committed only if it succeeded), then leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.resolveStopped();
    await this.restarting;
    await this.consumer?.disconnect();
    await this.producer?.disconnect().catch(() => undefined);
  }
}
