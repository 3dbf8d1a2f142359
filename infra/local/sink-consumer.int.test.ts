import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKafka, readAllRecords } from '../../test/support/local-clients';
import { uniqueName } from '../../test/support/unique-name';
import type { LambdaKafkaEvent } from '../../shared/lambda-kafka-event';
import { recordsOf } from '../../shared/lambda-kafka-event';
import type { SinkSummary } from '../../shared/sink-runner';
import { removeGroupMember } from '../../test/support/group-member-removal';
import { SwitchableProxy } from '../../test/support/switchable-proxy';
import { endpoints, external } from '../stack/endpoints';
import { stackDown, stackUp } from '../stack/stack';
import { PipelineStatus } from './pipeline-status';
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

  it('replaces a consumer KafkaJS gives up on (its member removed from the group): no record lost or skipped, the status counts the restart', async () => {
    // Prepare: the batch holding offset 50 waits until the test has removed the consumer from its group, so the commit
    // after it is answered "The coordinator is not aware of this member", which KafkaJS does not retry or restart.
    const topic = await topicWith(200);
    const groupId = uniqueName('group');
    const handled: number[] = [];
    const events: ConsumerEvent[] = [];
    const status = new PipelineStatus([], ['test']);
    let gatedBatch: number[] = [];
    let releaseGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      releaseGate = resolve;
    });
    const consumer = new SinkConsumer(
      kafka,
      groupId,
      { sink: 'test', topics: [topic], batchSize: 10, batchingWindowMs: 100, timeoutMs: 10_000, maxRetryAttempts: 1_000, onFailureTopic: uniqueName('on-failure') },
      async (event: LambdaKafkaEvent) => {
        const offsets = recordsOf(event).map((record) => record.offset);
        if (offsets.includes(50) && gatedBatch.length === 0) {
          gatedBatch = offsets;
          await gate;
        }
        handled.push(...offsets);
        return summary(offsets.length);
      },
      (invocation) => status.sinkInvoked(invocation),
      (event) => {
        events.push(event);
        status.consumerEvent(event);
      },
    );
    await consumer.start();
    await waitFor('the batch holding offset 50', () => gatedBatch.length > 0, 60_000);

    // Act: an admin removes the member, as the coordinator forgets members across a broker restart or a rebalance storm.
    const admin = kafka.admin();
    await admin.connect();
    const [group] = (await admin.describeGroups([groupId])).groups;
    await admin.disconnect();
    const members = group?.members.map((member) => member.memberId) ?? [];
    expect(members).toHaveLength(1);
    await removeGroupMember(endpoints.kafkaBrokers()[0] ?? '', groupId, members[0] ?? '');
    releaseGate();
    await waitFor('every record and a new consumer', () => new Set(handled).size === 200 && events.some((event) => event.kind === 'restarted'), 120_000);
    await consumer.stop();

    // Assess: KafkaJS gave up, a new consumer took over, and it resumed at the last committed offset: nothing skipped
    // (each offset read is at most one past the highest read before), nothing lost, and only the uncommitted batch twice.
    expect(events.find((event) => event.kind === 'crashed')?.detail).toMatch(/not aware of this member/);
    expect(events.filter((event) => event.kind === 'restarted')).toHaveLength(1);
    let highest = -1;
    for (const offset of handled) {
      expect(offset, `offset ${offset} read after ${highest}`).toBeLessThanOrEqual(highest + 1);
      highest = Math.max(highest, offset);
    }
    expect([...new Set(handled)].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const readTwice = handled.filter((offset, index) => handled.indexOf(offset) !== index);
    for (const offset of readTwice) expect(gatedBatch).toContain(offset);
    const view = status.sinks.get('test');
    expect(view).toMatchObject({ restarts: 1, records: handled.length });
    expect(view?.crashes).toBeGreaterThanOrEqual(1);
    expect(status.render('status')).toMatch(/^test\s+(\S+\s+){6}1\s+0/m);
  }, 180_000);

  it('starts while the broker does not answer and consumes every record once it does', async () => {
    // Prepare: the consumer reaches the broker through a proxy that refuses connections until the test enables it.
    const topic = await topicWith(50);
    const [broker] = endpoints.kafkaBrokers();
    const [host, port] = (broker ?? '').split(':');
    const proxy = await new SwitchableProxy(host ?? '', Number(port)).listen();
    const throughProxy = new Kafka({ clientId: 'sink-consumer-start-test', brokers: [`127.0.0.1:${proxy.port}`], logLevel: logLevel.NOTHING });
    const handled = new Set<number>();
    const events: ConsumerEvent[] = [];
    const consumer = new SinkConsumer(
      throughProxy,
      uniqueName('group'),
      { sink: 'test', topics: [topic], batchSize: 10, batchingWindowMs: 100, timeoutMs: 10_000, maxRetryAttempts: 1_000, onFailureTopic: uniqueName('on-failure') },
      async (event: LambdaKafkaEvent) => {
        for (const record of recordsOf(event)) handled.add(record.offset);
        return summary(recordsOf(event).length);
      },
      () => undefined,
      (event) => events.push(event),
    );

    try {
      // Act: start with the broker away (as npm start restarted during a broker outage), then bring it back.
      await consumer.start();
      expect(events.map((event) => event.kind)).toEqual(['crashed']);
      expect(events[0]?.detail).toMatch(/^start failed, retrying: /);
      proxy.enable();
      await waitFor('every record once the broker answers', () => handled.size === 50, 120_000);
    } finally {
      await consumer.stop();
      await proxy.close();
    }

    // Assess: the start went on in the background, and the status is told a consumer now runs.
    expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(events.filter((event) => event.kind === 'restarted')).toHaveLength(1);
  }, 180_000);

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
