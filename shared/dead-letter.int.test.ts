import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKafka, readAllRecords } from '../test/support/local-clients';
import { uniqueName } from '../test/support/unique-name';
import { DEAD_LETTER_HEADERS, KafkaDeadLetterSink } from './dead-letter';
import { DEFAULT_MAX_MESSAGE_BYTES } from './kafka-record-size';
import type { RejectedRecord } from './sink-batch';
import { createServedTopics } from '../test/support/test-topics';

function refused(offset: number, valueBytes: number, keyBytes = 40): RejectedRecord {
  return {
    record: {
      topic: 'mongo-cdc.shop.orders',
      partition: 2,
      offset,
      key: Buffer.alloc(keyBytes, 'k'),
      value: Buffer.alloc(valueBytes, 'v'),
      headers: { 'cdc-format': '1', 'cdc-op': 'insert' },
    },
    code: 'RECORD_TOO_LARGE',
    reason: `DynamoDB refused the item for record ${offset}: Item size has exceeded the maximum allowed size`,
  };
}

describe('dead letters against the real broker (message.max.bytes 1048588)', () => {
  const kafka = localKafka('dead-letter-test');
  let producer: Producer;
  const topics: string[] = [];

  beforeAll(async () => {
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  async function topic(): Promise<string> {
    const name = uniqueName('dlq');
    topics.push(name);
    await createServedTopics(kafka, [name]);
    return name;
  }

  it('sends two 600 KB refusals of one batch in requests the broker accepts, each copied whole', async () => {
    // Prepare
    const name = await topic();
    const sink = new KafkaDeadLetterSink(producer, name, 'dynamodb', DEFAULT_MAX_MESSAGE_BYTES);
    const batch = [refused(10, 600_000), refused(11, 600_000)];

    // Act
    await sink.send(batch);

    // Assess
    const letters = await readAllRecords(kafka, [name]);
    expect(letters.map((letter) => letter.headers[DEAD_LETTER_HEADERS.sourceOffset])).toEqual(['10', '11']);
    for (const letter of letters) {
      expect(letter.value?.length).toBe(600_000);
      expect(letter.headers[DEAD_LETTER_HEADERS.reference]).toBeUndefined();
      expect(letter.headers['cdc-op']).toBe('insert');
    }
  });

  it('turns a near-1 MB refusal into a reference to its source record, so the dead letter fits', async () => {
    // Prepare: the record alone fits the broker, the record plus dead-letter headers does not.
    const name = await topic();
    const sink = new KafkaDeadLetterSink(producer, name, 'opensearch', DEFAULT_MAX_MESSAGE_BYTES);
    const big = refused(42, DEFAULT_MAX_MESSAGE_BYTES - 400);

    // Act
    await sink.send([refused(41, 1_000), big]);

    // Assess
    const letters = await readAllRecords(kafka, [name]);
    expect(letters).toHaveLength(2);
    const reference = letters[1];
    expect(reference?.headers[DEAD_LETTER_HEADERS.reference]).toBe('true');
    expect(reference?.headers[DEAD_LETTER_HEADERS.code]).toBe('RECORD_TOO_LARGE');
    expect(reference?.key?.length).toBe(40);
    expect(JSON.parse(reference?.value?.toString() ?? '{}')).toMatchObject({
      topic: 'mongo-cdc.shop.orders',
      partition: 2,
      offset: 42,
      valueBytes: DEFAULT_MAX_MESSAGE_BYTES - 400,
      code: 'RECORD_TOO_LARGE',
      reason: big.reason,
    });
    expect(letters[0]?.value?.length).toBe(1_000);
  });

  it('replaces an oversize key by its SHA-256 and cuts a very long reason', async () => {
    // Prepare
    const name = await topic();
    const sink = new KafkaDeadLetterSink(producer, name, 'opensearch', DEFAULT_MAX_MESSAGE_BYTES);
    const huge = { ...refused(7, 10, 1_040_000), reason: `failed to parse: ${'x'.repeat(100_000)}` };

    // Act
    await sink.send([huge]);

    // Assess
    const [letter] = await readAllRecords(kafka, [name]);
    // Lengths first: a failed match on a megabyte string would drown the report.
    expect(letter?.key?.length).toBe(71);
    expect(letter?.key?.toString()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const body = JSON.parse(letter?.value?.toString() ?? '{}') as { keyBytes: number; reason: string };
    expect(body.keyBytes).toBe(1_040_000);
    expect(body.reason).toMatch(/cut from 100017 bytes/);
    expect(letter?.headers[DEAD_LETTER_HEADERS.reason]?.length).toBeLessThan(9_000);
  });
});
