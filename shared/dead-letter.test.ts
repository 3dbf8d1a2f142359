import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, deadLetterMessage } from './dead-letter';
import { chunkBySize, kafkaRecordSize } from './kafka-record-size';

const refused = (valueBytes: number, keyBytes = 10) => ({
  record: { topic: 't', partition: 1, offset: 5, key: Buffer.alloc(keyBytes, 'k'), value: Buffer.alloc(valueBytes, 'v'), headers: { h: '1' } },
  code: 'STORE_REJECTED' as const,
  reason: 'refused',
});

describe('dead-letter messages', () => {
  it('copies a record that fits, with where it came from and why', () => {
    const message = deadLetterMessage(refused(100), 'dynamodb', 10_000);
    expect(message.value?.length).toBe(100);
    expect(message.headers).toMatchObject({ h: '1', [DEAD_LETTER_HEADERS.reason]: 'refused', [DEAD_LETTER_HEADERS.sourceOffset]: '5', [DEAD_LETTER_HEADERS.sink]: 'dynamodb' });
  });

  it('refers to a record too large to copy, and always fits the limit', () => {
    const message = deadLetterMessage(refused(20_000), 'opensearch', 10_000);
    expect(kafkaRecordSize(message)).toBeLessThanOrEqual(10_000);
    expect(message.headers[DEAD_LETTER_HEADERS.reference]).toBe('true');
    expect(JSON.parse(message.value?.toString() ?? '{}')).toMatchObject({ topic: 't', partition: 1, offset: 5, valueBytes: 20_000, reason: 'refused' });
  });

  it('splits dead letters into requests below the limit, in order', () => {
    const messages = [1, 2, 3].map(() => deadLetterMessage(refused(600), 's', 10_000));
    expect(chunkBySize(messages, 1_500).map((chunk) => chunk.length)).toEqual([1, 1, 1]);
    expect(chunkBySize(messages, 10_000).map((chunk) => chunk.length)).toEqual([3]);
  });
});
