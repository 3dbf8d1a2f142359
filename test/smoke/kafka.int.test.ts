import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { uniqueName } from '../support/unique-name';
import { createServedTopics } from '../support/test-topics';

describe('Kafka smoke test (real broker)', () => {
  const kafka = new Kafka({ clientId: 'smoke', brokers: endpoints.kafkaBrokers(), logLevel: logLevel.WARN });
  const admin = kafka.admin();
  const topic = uniqueName('smoke-kafka');

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('reads back every record an idempotent acks=all producer sent, in per-partition order', async () => {
    // Prepare
    await admin.connect();
    await createServedTopics(kafka, [topic], 3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const keys = Array.from({ length: 12 }, (_, index) => `doc-${index}`);
    const perKey = 25;
    const sent = new Map<string, number[]>();

    // Act
    for (let sequence = 0; sequence < perKey; sequence++) {
      await producer.send({
        topic,
        acks: -1,
        messages: keys.map((key) => ({ key, value: JSON.stringify({ key, sequence }) })),
      });
      for (const key of keys) sent.set(key, [...(sent.get(key) ?? []), sequence]);
    }
    await producer.disconnect();

    const received = new Map<string, number[]>();
    const partitionsByKey = new Map<string, Set<number>>();
    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const total = keys.length * perKey;
    let count = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${count} of ${total} records arrived`)), 60_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const { key, sequence } = JSON.parse(String(message.value)) as { key: string; sequence: number };
          received.set(key, [...(received.get(key) ?? []), sequence]);
          partitionsByKey.set(key, (partitionsByKey.get(key) ?? new Set()).add(partition));
          if (++count === total) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();

    // Assess
    expect(received).toEqual(sent);
    for (const partitions of partitionsByKey.values()) expect(partitions.size).toBe(1);
    expect(new Set([...partitionsByKey.values()].flatMap((set) => [...set])).size).toBeGreaterThan(1);
  });
});
