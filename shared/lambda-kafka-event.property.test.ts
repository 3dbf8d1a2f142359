import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { headerText, type LambdaKafkaEvent, type LambdaKafkaRecord, recordsOf, type SourceRecord } from './lambda-kafka-event';

/** recordsOf as it was before its fast paths (header values through a Buffer, every partition sorted): the reference. */
function recordsOfReference(event: LambdaKafkaEvent): SourceRecord[] {
  const records: SourceRecord[] = [];
  for (const batch of Object.values(event.records)) {
    const sorted = [...batch].sort((a, b) => a.offset - b.offset);
    for (const record of sorted) {
      const headers: Record<string, string> = {};
      for (const header of record.headers ?? []) {
        for (const [name, bytes] of Object.entries(header)) headers[name] = Buffer.from(bytes).toString('utf8');
      }
      records.push({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key === undefined || record.key === null ? null : Buffer.from(record.key, 'base64'),
        value: record.value === undefined || record.value === null ? null : Buffer.from(record.value, 'base64'),
        headers,
      });
    }
  }
  return records;
}

/** Header values as Lambda gives them (bytes 0-255), and values no byte array holds, which Buffer.from coerces. */
const headerBytes = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 127 }), { maxLength: 70 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => [...Buffer.from(text, 'utf8')]) },
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 80 }),
  fc.array(fc.oneof(fc.integer({ min: -300, max: 300 }), fc.double(), fc.constantFrom(-0, 0.5, 127.5, Number.NaN, 2 ** 32)), { maxLength: 6 }),
  fc.array(fc.oneof(fc.constant('a'), fc.constant(null), fc.boolean(), fc.integer({ min: 0, max: 127 })), { maxLength: 4 }),
  // biome-ignore lint/suspicious/noSparseArray: a hole, which Buffer.from reads as 0 and the fast path must leave to it
  fc.constant([,]),
) as fc.Arbitrary<number[]>;

const record = fc.record({
  offset: fc.oneof({ weight: 6, arbitrary: fc.nat(50) }, fc.constantFrom(Number.NaN, -1, 2 ** 53)),
  key: fc.option(fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('base64'))),
  value: fc.option(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('base64')), { freq: 8 }),
  headers: fc.option(fc.array(fc.dictionary(fc.constantFrom('cdc-format', 'cdc-snapshot', 'x', '__proto__'), headerBytes, { maxKeys: 2 }), { maxLength: 3 }), { freq: 6 }),
});

/** Partitions whose records come in offset order, as Lambda delivers them, or in any order. */
const partition = fc.tuple(fc.array(record, { maxLength: 8 }), fc.boolean()).map(([records, ordered]) =>
  ordered ? [...records].sort((a, b) => a.offset - b.offset) : records,
);

function eventOf(partitions: Array<Array<typeof record extends fc.Arbitrary<infer T> ? T : never>>): LambdaKafkaEvent {
  const grouped: Record<string, LambdaKafkaRecord[]> = {};
  partitions.forEach((records, index) => {
    grouped[`orders-${index}`] = records.map((generated) => ({
      topic: 'orders',
      partition: index,
      offset: generated.offset,
      ...(generated.key !== null ? { key: generated.key } : {}),
      ...(generated.value !== null ? { value: generated.value } : { value: null }),
      ...(generated.headers !== null ? { headers: generated.headers } : {}),
    }));
  });
  return { eventSource: 'aws:kafka', records: grouped };
}

describe('recordsOf', () => {
  it('gives the records the reference gives, for generated events', () => {
    let fastHeaders = 0;
    fc.assert(
      fc.property(fc.array(partition, { maxLength: 4 }), (partitions) => {
        const event = eventOf(partitions);
        expect(recordsOf(event)).toEqual(recordsOfReference(event));
        for (const records of partitions) {
          for (const generated of records) {
            for (const header of generated.headers ?? []) {
              for (const bytes of Object.values(header)) if (bytes.length <= 64 && bytes.every((byte) => Number.isInteger(byte) && byte >= 0 && byte < 128)) fastHeaders++;
            }
          }
        }
      }),
      { numRuns: 1000 },
    );
    // The short ASCII values, the decoder's fast path, must come up often, not only the others.
    expect(fastHeaders).toBeGreaterThan(1000);
  });

  it('decodes a header value as Buffer does, for any array', () => {
    fc.assert(
      fc.property(headerBytes, (bytes) => {
        expect(headerText(bytes)).toBe(Buffer.from(bytes).toString('utf8'));
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes the relay\'s format header', () => {
    expect(recordsOf({ records: { 't-0': [{ topic: 't', partition: 0, offset: 0, key: null, value: null, headers: [{ 'cdc-format': [50] }] }] } })[0]?.headers).toEqual({ 'cdc-format': '2' });
  });
});
