import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeHeaders, recordBodySize, writeRecordBody } from './kafka-record-body';

/**
 * patches/kafkajs+2.2.4.patch (applied by patch-package on `npm install`) makes KafkaJS's produce path cheaper: encoder
 * buffers allocated without zero-filling and sized up front, varints written in place, records whose key, value and
 * headers came encoded (`encodedBody`) written straight into their batch, messages grouped by partition in linear time,
 * a produce request written into one encoder, and a slicing-by-16 CRC-32C. These tests hold the patched code to what
 * the original did: the CRC and varints against references written here, records with an encoded body against the
 * records KafkaJS encodes itself, and record batches and requests against KafkaJS's own decoders.
 */

const require = createRequire(import.meta.url);
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;

interface KafkajsEncoder {
  readonly buffer: Buffer;
  size(): number;
}
interface RecordInput {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, Buffer | string | (Buffer | string)[]>;
}
type RecordEncoder = (record: RecordInput & { offsetDelta: number; timestampDelta: number }) => KafkajsEncoder;
interface BatchOptions {
  compression: number;
  records: KafkajsEncoder[];
  firstOffset: unknown;
  firstTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  partitionLeaderEpoch: number;
  producerId: unknown;
  producerEpoch: number;
  firstSequence: number;
}
interface DecodedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  offset: string;
  timestamp: string;
}
interface DecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  lastOffsetDelta: number;
  partitionLeaderEpoch: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: DecodedRecord[];
}
type KafkajsDecoder = {
  readInt16(): number;
  readInt32(): number;
  readString(): string | null;
  readAll(): Buffer;
};

const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as RecordEncoder & {
  PreEncodedRecord: new (offsetDelta: number, timestampDelta: number, encodedBody: Buffer) => KafkajsEncoder & { writeTo(encoder: unknown): KafkajsEncoder };
};
const { PreEncodedRecord } = Record;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: BatchOptions) => Promise<KafkajsEncoder>;
};
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: KafkajsDecoder) => Promise<DecodedBatch>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkajsDecoder & { readBytes(length: number): Buffer };
type VarIntEncoder = KafkajsEncoder & { writeVarInt(value: number): VarIntEncoder; writeVarLong(value: number | unknown): VarIntEncoder; writeUVarInt(value: number): VarIntEncoder };
const Encoder = require('kafkajs/src/protocol/encoder') as (new (
  initialSize?: number,
  exactSize?: boolean,
) => KafkajsEncoder & VarIntEncoder & { writeBuffer(value: Buffer): KafkajsEncoder }) & {
  sizeOfVarLong(value: number): number;
};
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (options: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: Buffer; partition: number }[];
  partitioner: (options: { message: { key: Buffer; partition: number } }) => number;
}) => Record<string, { key: Buffer; partition: number }[]>;
const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request') as (options: {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId: unknown;
  producerEpoch: number;
  compression: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence: number; messages: Record<string, unknown>[] }[] }[];
}) => { encode(): Promise<KafkajsEncoder> };
const Long = require('kafkajs/src/utils/long') as { fromString(value: string): unknown };
const createRequest = require('kafkajs/src/protocol/request') as (options: {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode: () => Promise<KafkajsEncoder> };
}) => Promise<KafkajsEncoder>;
const { CompressionTypes } = require('kafkajs') as { CompressionTypes: { None: number; GZIP: number } };

/** CRC-32C one bit at a time, straight from the definition: reflected polynomial 0x82F63B78, initial and final ~0. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Bytes of any length from a seed, so big values need not be generated byte by byte: a seeded 7-byte pattern. */
function bytesFrom(seed: number, length: number): Buffer {
  const pattern = Buffer.alloc(7);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (seed * (i + 31) + i) & 0xff;
  return Buffer.alloc(length, pattern);
}

describe('the installed KafkaJS', () => {
  it('is patched (patches/kafkajs+2.2.4.patch)', () => {
    const source = (module: string) => readFileSync(require.resolve(module), 'utf8');
    const notPatched = 'KafkaJS is installed without patches/kafkajs+2.2.4.patch: run `npm install` (its postinstall runs patch-package, which applies the patch)';
    const crc32CModule = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as { implementation?: string };
    expect(crc32CModule.implementation, notPatched).toBe('mongo-cdc-crc32c-slicing-by-16');
    expect(source('kafkajs/src/protocol/encoder.js'), notPatched).toContain('Buffer.allocUnsafe');
    expect(typeof PreEncodedRecord, notPatched).toBe('function');
  });
});

describe('crc32C (slicing-by-16)', () => {
  it('gives the known check values', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(0))).toBe(0);
    expect(crc32C(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32C(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
    const long = bytesFrom(7, 1 << 20);
    expect(crc32C(long)).toBe(referenceCrc32c(long));
  });

  it('equals the bitwise reference over buffers of any length, also views at odd offsets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), fc.nat(7), (bytes, head, tail) => {
        const whole = Buffer.concat([bytesFrom(head + 1, head), Buffer.from(bytes), bytesFrom(tail + 1, tail)]);
        const view = whole.subarray(head, head + bytes.length);
        expect(crc32C(view)).toBe(referenceCrc32c(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }));
const bytes = fc.oneof(
  { depthSize: 'small', withCrossShrink: true },
  fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array)),
  // Past the 512 bytes an encoder started with, and past 64 KiB.
  fc.tuple(fc.integer(), fc.oneof(fc.integer({ min: 400, max: 2_000 }), fc.integer({ min: 65_536, max: 70_000 }))).map(([seed, length]) => bytesFrom(seed, length)),
);
const field = fc.oneof(text, bytes);
const headerName = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((name) => !(name in Object.prototype));
const record = fc.record({
  key: fc.oneof(field, fc.constant(null)),
  value: fc.oneof(field, fc.constant(null), fc.constant('')),
  // KafkaJS itself rejects a null header value, so the generator never makes one. Its decoder mistakes a header named
  // like an Object.prototype member ("constructor") for a repeated one, whatever the encoder: those names are left out.
  headers: fc.dictionary(headerName, fc.oneof(field, fc.array(field, { minLength: 2, maxLength: 3 })), { maxKeys: 4 }),
});

// Compared as base64 text: deep equality of big Buffers goes byte by byte and would take minutes.
const asText = (value: Buffer | string | null) => (value === null ? null : Buffer.from(value).toString('base64'));
const headersAsText = (headers: Record<string, Buffer | string | (Buffer | string)[]>) =>
  Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, Array.isArray(value) ? value.map(asText) : asText(value)]));

describe('record batches encoded by the patched KafkaJS', () => {
  it("decode with KafkaJS's own decoder to what was encoded, and carry the CRC of the bytes after it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 12 }),
        fc.constantFrom(CompressionTypes.None, CompressionTypes.GZIP),
        fc.record({
          firstOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
          firstTimestamp: fc.integer({ min: 0, max: 2 ** 42 }),
          timestampSpread: fc.nat(100_000),
          partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
          producerId: fc.bigInt({ min: -1n, max: 2n ** 62n }),
          producerEpoch: fc.nat(32_767),
          firstSequence: fc.nat(),
        }),
        async (records, compression, batch) => {
          const encodedRecords = records.map((input, i) => Record({ ...input, offsetDelta: i, timestampDelta: (i * batch.timestampSpread) % 1_000 }));
          const encoded = (
            await RecordBatch({
              compression,
              records: encodedRecords,
              firstOffset: Long.fromString(String(batch.firstOffset)),
              firstTimestamp: batch.firstTimestamp,
              maxTimestamp: batch.firstTimestamp + batch.timestampSpread,
              lastOffsetDelta: records.length - 1,
              partitionLeaderEpoch: batch.partitionLeaderEpoch,
              producerId: Long.fromString(String(batch.producerId)),
              producerEpoch: batch.producerEpoch,
              firstSequence: batch.firstSequence,
            })
          ).buffer;

          // firstOffset (8), length (4) covering the rest, partitionLeaderEpoch (4), magic (1), then the CRC (4)
          // of everything after it.
          expect(encoded.readInt32BE(8)).toBe(encoded.length - 12);
          expect(encoded.readUInt32BE(17)).toBe(referenceCrc32c(encoded.subarray(21)));

          const decoded = await decodeRecordBatch(new Decoder(encoded));
          expect(decoded).toMatchObject({
            firstOffset: String(batch.firstOffset),
            firstTimestamp: String(batch.firstTimestamp),
            maxTimestamp: String(batch.firstTimestamp + batch.timestampSpread),
            lastOffsetDelta: records.length - 1,
            partitionLeaderEpoch: batch.partitionLeaderEpoch,
            producerId: String(batch.producerId),
            producerEpoch: batch.producerEpoch,
            firstSequence: batch.firstSequence,
          });
          expect(decoded.records).toHaveLength(records.length);
          records.forEach((input, i) => {
            const output = decoded.records[i];
            expect(asText(output?.key ?? null)).toBe(asText(input.key));
            expect(asText(output?.value ?? null)).toBe(asText(input.value));
            expect(output?.offset).toBe(String(batch.firstOffset + BigInt(i)));
            expect(output?.timestamp).toBe(String(batch.firstTimestamp + ((i * batch.timestampSpread) % 1_000)));
            expect(headersAsText(output?.headers ?? {})).toEqual(headersAsText(input.headers));
          });
        },
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});

describe('requests framed by the patched KafkaJS', () => {
  it('start with the size of the rest, then the request header, then the payload unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constant(null)), fc.nat(), fc.nat(70_000), async (clientId, correlationId, payloadLength) => {
        const payload = bytesFrom(correlationId, payloadLength);
        const request = await createRequest({
          correlationId,
          clientId,
          request: { apiKey: 0, apiVersion: 3, encode: async () => new Encoder().writeBuffer(payload) },
        });
        const decoder = new Decoder(request.buffer);
        expect(decoder.readInt32()).toBe(request.buffer.length - 4);
        expect(decoder.readInt16()).toBe(0);
        expect(decoder.readInt16()).toBe(3);
        expect(decoder.readInt32()).toBe(correlationId);
        expect(decoder.readString()).toBe(clientId);
        expect(decoder.readAll().equals(payload)).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});

/** A zigzag varint of any safe integer, from the definition (BigInt arithmetic): what Kafka reads. */
function referenceVarLong(value: number): Buffer {
  let zigzag = BigInt(value) >= 0n ? BigInt(value) * 2n : -BigInt(value) * 2n - 1n;
  const out: number[] = [];
  while (zigzag >= 0x80n) {
    out.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  out.push(Number(zigzag));
  return Buffer.from(out);
}

describe('varints written by the patched KafkaJS', () => {
  it('are the zigzag varints of their values, sized as written, ints through the int32 path and longs through Long', () => {
    const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    fc.assert(
      fc.property(int32, fc.oneof(int32, fc.maxSafeInteger(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), (varint, varlong) => {
        // Written into an exactly sized encoder: a varint asks for no more room than its bytes.
        const encoder = new Encoder(referenceVarLong(varint).length + referenceVarLong(varlong).length, true).writeVarInt(varint).writeVarLong(varlong);
        expect(encoder.buffer.toString('hex')).toBe(Buffer.concat([referenceVarLong(varint), referenceVarLong(varlong)]).toString('hex'));
        expect(Encoder.sizeOfVarLong(varlong)).toBe(referenceVarLong(varlong).length);
        expect((encoder as unknown as { buf: Buffer }).buf.length).toBe(encoder.buffer.length);
      }),
      { numRuns: 2000 },
    );
  });
});

/** What shared/kafka-record-body.ts takes: keys and values as bytes or null, header values as strings. */
const bodyRecord = fc.record({
  key: fc.oneof(bytes, fc.constant(null)),
  value: fc.oneof(bytes, fc.constant(null), fc.constant(Buffer.alloc(0))),
  headers: fc.dictionary(headerName, fc.string({ unit: 'grapheme', maxLength: 30 }), { maxKeys: 4 }),
});
const encodedBodyOf = ({ key, value, headers }: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }) => {
  const encodedHeaders = encodeHeaders(headers);
  const body = Buffer.alloc(recordBodySize(key, value, encodedHeaders));
  expect(writeRecordBody(body, 0, key, value, encodedHeaders)).toBe(body.length);
  return body;
};

describe('records that come with their key, value and headers encoded (encodedBody)', () => {
  it('are byte for byte the records KafkaJS encodes from the key, value and headers', () => {
    fc.assert(
      fc.property(bodyRecord, fc.nat(100_000), fc.oneof(fc.integer({ min: -1_000, max: 1_000 }), fc.integer({ min: 2 ** 31, max: 2 ** 42 })), (input, offsetDelta, timestampDelta) => {
        const expected = Record({ ...input, offsetDelta, timestampDelta }).buffer.toString('base64');
        const encodedBody = encodedBodyOf(input);
        expect(Record({ ...input, offsetDelta, timestampDelta, encodedBody } as never).buffer.toString('base64')).toBe(expected);
        const preEncoded = new PreEncodedRecord(offsetDelta, timestampDelta, encodedBody);
        const written = preEncoded.writeTo(new Encoder(preEncoded.size(), true));
        expect(written.buffer.toString('base64')).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('decode from a record batch beside records encoded the usual way, compressed or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(bodyRecord, fc.boolean()), { maxLength: 12 }), fc.constantFrom(CompressionTypes.None, CompressionTypes.GZIP), async (records, compression) => {
        const encoded = (
          await RecordBatch({
            compression,
            records: records.map(([input, preEncoded], i) => (preEncoded ? new PreEncodedRecord(i, 0, encodedBodyOf(input)) : Record({ ...input, offsetDelta: i, timestampDelta: 0 }))),
            firstOffset: Long.fromString('0'),
            firstTimestamp: 1_700_000_000_000,
            maxTimestamp: 1_700_000_000_000,
            lastOffsetDelta: records.length - 1,
            partitionLeaderEpoch: 0,
            producerId: Long.fromString('7'),
            producerEpoch: 0,
            firstSequence: 0,
          })
        ).buffer;
        expect(encoded.readUInt32BE(17)).toBe(referenceCrc32c(encoded.subarray(21)));
        const decoded = await decodeRecordBatch(new Decoder(encoded));
        expect(decoded.records).toHaveLength(records.length);
        records.forEach(([input], i) => {
          const output = decoded.records[i];
          expect(asText(output?.key ?? null)).toBe(asText(input.key));
          expect(asText(output?.value ?? null)).toBe(asText(input.value));
          expect(output?.offset).toBe(String(i));
          expect(headersAsText(output?.headers ?? {})).toEqual(headersAsText(input.headers));
        });
      }),
      { numRuns: 200 },
    );
  }, 60_000);
});

describe('grouping messages by partition in the patched KafkaJS', () => {
  it("keeps each partition's messages in the order sent", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(4), { maxLength: 300 }), (partitions) => {
        const messages = partitions.map((partition, i) => ({ key: Buffer.from(String(i)), partition }));
        const grouped = groupMessagesPerPartition({
          topic: 't',
          partitionMetadata: [0, 1, 2, 3, 4],
          messages,
          partitioner: ({ message }) => message.partition,
        });
        const expected: Record<string, { key: Buffer; partition: number }[]> = {};
        for (const message of messages) {
          const same = expected[String(message.partition)] ?? [];
          same.push(message);
          expected[String(message.partition)] = same;
        }
        expect(grouped).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('produce requests (v3 and later) encoded by the patched KafkaJS', () => {
  it('hold each topic and partition with its record batch, in order, sized exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { maxLength: 3 }),
        fc.array(fc.tuple(bodyRecord, fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.oneof(fc.constant(null), fc.string({ maxLength: 8 })),
        async (topics, records, transactionalId) => {
          const messages = records.map(([input, preEncoded]) => (preEncoded ? { ...input, encodedBody: encodedBodyOf(input) } : input));
          const topicData = topics.map((topic, t) => ({ topic, partitions: [0, 1].map((p) => ({ partition: p + t, firstSequence: 5, messages: messages.slice(p) })) }));
          const encoded = await produceV3({ acks: -1, timeout: 30_000, transactionalId, producerId: Long.fromString('9'), producerEpoch: 1, compression: CompressionTypes.None, topicData }).encode();
          expect(encoded.buffer.length).toBe(encoded.size());
          const decoder = new Decoder(encoded.buffer);
          expect(decoder.readString()).toBe(transactionalId);
          expect(decoder.readInt16()).toBe(-1);
          expect(decoder.readInt32()).toBe(30_000);
          expect(decoder.readInt32()).toBe(topics.length);
          for (const { topic, partitions } of topicData) {
            expect(decoder.readString()).toBe(topic);
            expect(decoder.readInt32()).toBe(partitions.length);
            for (const { partition, messages: sent } of partitions) {
              expect(decoder.readInt32()).toBe(partition);
              const batch = await decodeRecordBatch(new Decoder(decoder.readBytes(decoder.readInt32())));
              expect(batch.firstSequence).toBe(5);
              expect(batch.records.map((record) => [asText(record.key), asText(record.value), headersAsText(record.headers)])).toEqual(
                sent.map((input) => [asText(input.key), asText(input.value), headersAsText(input.headers)]),
              );
            }
          }
          expect(decoder.readAll().length).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);
});
