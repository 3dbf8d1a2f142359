import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHeaders, recordBodySize, writeRecordBody } from '../../shared/kafka-record-body';
import type { OutgoingRecord } from './record-producer';
import { packRecords, unpackRecords } from './record-transfer';

/** Packing records into one transferable buffer and reading them back gives the same records, in the same order. */

const shared = Object.freeze({ 'cdc-format': '2' });
const headerSet = fc.oneof(
  fc.constant(shared),
  fc.constant({}),
  fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 30 }), { maxKeys: 4 }),
);
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
const record: fc.Arbitrary<OutgoingRecord> = fc.record({
  topic: fc.oneof(fc.constantFrom('mongo-cdc.shop.orders', 'crm.shop.customers'), fc.string({ unit: 'grapheme', maxLength: 20 })),
  key: bytes(64),
  value: fc.oneof(fc.constant(null), bytes(512), fc.constant(Buffer.alloc(0))),
  headers: headerSet,
});

/** What a record is, compared as plain data (a Buffer view and its copy compare equal as bytes). */
const plain = (records: readonly OutgoingRecord[]) =>
  records.map(({ topic, key, value, headers }) => ({ topic, key: [...key], value: value === null ? null : [...value], headers: { ...headers } }));

describe('packRecords / unpackRecords', () => {
  it('round-trips any records: tombstones, empty and unicode headers and topics, empty keys and values', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), (records) => {
        const packed = packRecords(records);
        expect(packed.count).toBe(records.length);
        const unpacked = unpackRecords(packed);
        expect(plain(unpacked)).toEqual(plain(records));
        // Each comes with its Kafka record body, the one kafka-record-body.ts writes for its key, value and headers.
        unpacked.forEach(({ key, value, headers, encodedBody }) => {
          const encodedHeaders = encodeHeaders(headers);
          const body = Buffer.alloc(recordBodySize(key, value, encodedHeaders));
          writeRecordBody(body, 0, key, value, encodedHeaders);
          expect(encodedBody?.toString('hex')).toBe(body.toString('hex'));
        });
      }),
      { numRuns: 300 },
    );
  });

  it('carries large values and pooled Buffers exactly, in one buffer that is not a pool slab', () => {
    // Buffer.from(string) of a small string lands in the shared 8 KiB pool: only the record's own bytes are packed.
    const pooledKey = Buffer.from('{"_id":{"$oid":"65f0c0ffee00000000000001"}}');
    const large = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    large[large.length - 1] = 0x01;
    const records: OutgoingRecord[] = [
      { topic: 't', key: pooledKey, value: large, headers: shared },
      { topic: 't', key: pooledKey, value: null, headers: shared },
    ];
    const packed = packRecords(records);
    expect(packed.buffer.byteLength).toBeLessThan(large.length + 1024);
    const [first, tombstone] = unpackRecords(packed);
    expect(first?.value?.equals(large)).toBe(true);
    expect(first?.key.equals(pooledKey)).toBe(true);
    expect(tombstone?.value).toBeNull();
    expect(first?.value?.buffer).toBe(packed.buffer);
  });

  it('gives records that shared one header object one frozen header object again', () => {
    const own = { reason: 'too large' };
    const unpacked = unpackRecords(
      packRecords([
        { topic: 'a', key: Buffer.from('1'), value: Buffer.from('x'), headers: shared },
        { topic: 'b', key: Buffer.from('2'), value: Buffer.from('y'), headers: own },
        { topic: 'a', key: Buffer.from('3'), value: Buffer.from('z'), headers: shared },
      ]),
    );
    expect(unpacked[0]?.headers).toBe(unpacked[2]?.headers);
    expect(unpacked[1]?.headers).not.toBe(unpacked[0]?.headers);
    expect(Object.isFrozen(unpacked[0]?.headers)).toBe(true);
  });

  it('survives a transfer to a worker thread and back', async () => {
    const { MessageChannel } = await import('node:worker_threads');
    const packed = packRecords([{ topic: 'é', key: Buffer.from('k'), value: Buffer.from('v'), headers: { 'ü': '✓' } }]);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<typeof packed>((resolve) => port2.once('message', resolve));
    port1.postMessage(packed, [packed.buffer]);
    const arrived = await received;
    port1.close();
    expect(packed.buffer.byteLength).toBe(0); // moved, not copied
    expect(plain(unpackRecords(arrived))).toEqual([{ topic: 'é', key: [...Buffer.from('k')], value: [...Buffer.from('v')], headers: { 'ü': '✓' } }]);
  });

  it('refuses a buffer that is not a packed batch', () => {
    expect(() => unpackRecords({ buffer: new ArrayBuffer(16), count: 0 })).toThrow(/not a packed record batch/);
  });
});
