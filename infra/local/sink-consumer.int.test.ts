import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKafka, readAllRecords } from '../../test/support/local-clients';
import { uniqueName } from '../../test/support/unique-name';
import type { LambdaKafkaEvent } from '../../shared/lambda-kafka-event';
import { recordsOf } from '../../shared/lambda-kafka-event';
import type { SinkSummary } from '../../shared/sink-runner';
import { external } from '../stack/endpoints';
import { stackDown, stackUp } from '../stack/stack';
import { type ConsumerEvent, SinkConsumer } from './sink-consumer';
import { createServedTopics } from '../../test/support/test-topics';

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const summary = (records: number): SinkSummary => ({
  records,
  changes: records,
  applied: records,
  stale: 0,
  deadLettered: 0,
  skipped: { tombstones: 0, controlEvents: 0, withoutDocument: 0, superseded: 0 },
});

describe('local sink consumer against the real broker', () => {
  const kafka: Kafka = localKafka('sink-consumer-test');
  const topics: string[] = [];

  async function topicWith(records: number): Promise<string> {
    const topic = uniqueName('consumed');
    topics.push(topic);
    await createServedTopics(kafka, [topic]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: records }, (_, index) => ({ key: `k${index}`, value: `v${index}` })) });
    await producer.disconnect();
    return topic;
  }

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  it('gives up on a poison batch after the retry limit: an on-failure record, then the records after it', async () => {
    // Prepare: the batch holding offset 12 always fails.
    const topic = await topicWith(30);
    const onFailureTopic = uniqueName('on-failure');
    topics.push(onFailureTopic);
    const handled: number[] = [];
    const events: ConsumerEvent[] = [];
    let invocations = 0;
    const consumer = new SinkConsumer(
      kafka,
      uniqueName('group'),
      { sink: 'test', topics: [topic], batchSize: 10, batchingWindowMs: 100, timeoutMs: 10_000, maxRetryAttempts: 2, onFailureTopic },
      async (event: LambdaKafkaEvent) => {
        invocations++;
        const offsets = recordsOf(event).map((record) => record.offset);
        if (offsets.includes(12)) throw new Error('poison: offset 12 cannot be applied');
        handled.push(...offsets);
        return summary(offsets.length);
      },
      () => undefined,
      (event) => events.push(event),
    );

    // Act
    await consumer.start();
    await waitFor('the records after the poison batch', () => handled.includes(29), 90_000);
    await consumer.stop();

    // Assess
    expect(handled).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 20 + i)]);
    expect(invocations).toBe(2 + 3);
    expect(events.filter((event) => event.kind === 'on-failure')).toHaveLength(1);
    const [record] = await readAllRecords(kafka, [onFailureTopic]);
    expect(JSON.parse(record?.value?.toString() ?? '{}')).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { errorMessage: 'poison: offset 12 cannot be applied' },
      KafkaBatchInfo: { topic, partition: 0, startOffset: '10', endOffset: '19', batchSize: 10 },
    });
  });

  it.skipIf(external.kafka())('consumes every record although the broker is restarted mid-consumption', async () => {
    // Prepare: slow batches, so the restart lands while records are left.
    const topic = await topicWith(200);
    const handled = new Set<number>();
    const events: ConsumerEvent[] = [];
    const consumer = new SinkConsumer(
      kafka,
      uniqueName('group'),
      { sink: 'test', topics: [topic], batchSize: 10, batchingWindowMs: 100, timeoutMs: 10_000, maxRetryAttempts: 1_000, onFailureTopic: uniqueName('on-failure') },
      async (event: LambdaKafkaEvent) => {
        await new Promise((done) => setTimeout(done, 300));
        for (const record of recordsOf(event)) handled.add(record.offset);
        return summary(recordsOf(event).length);
      },
      () => undefined,
      (event) => events.push(event),
    );
    await consumer.start();
    await waitFor('the first batches', () => handled.size >= 30, 60_000);

    // Act
    await stackDown(() => undefined, ['kafka']);
    await stackUp(() => undefined, ['kafka']);
    await waitFor('every record after the restart', () => handled.size === 200, 240_000);
    await consumer.stop();

    // Assess
    expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    console.log(`[sink-consumer] consumer events during the broker restart: ${JSON.stringify(events.map((event) => event.kind))}`);
  }, 300_000);
});
