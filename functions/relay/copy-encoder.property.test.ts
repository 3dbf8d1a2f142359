import fc from 'fast-check';
import { Binary, BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { streamSchema } from './relay-config';
import { CopyEncoder, RAW_VALUES, recordsForCopy } from './snapshot-records';

/**
 * The chunk encoder (records written from the documents' BSON bytes) against the object path every copy took before
 * it (`recordsForCopy` on the deserialized document): the same records, byte for byte, in the same order, with the
 * same counts, whether a document takes the byte path, the object path, or the oversize policy.
 */

const namespace = { db: 'shop', coll: 'orders' };
const at = { seconds: 1_800_000_000, increment: 7, fromServer: true };

const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((name) => !name.includes('\u0000') && name !== '_id');
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer().map((number) => new Int32(number)),
  fc.double().map((number) => new Double(number)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((number) => Long.fromBigInt(number)),
  fc.date(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => new Binary(bytes)),
  fc.constant(Decimal128.fromString('1.5')),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((time) => new Timestamp(time)),
  fc.dictionary(key, fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.array(fc.integer().map((number) => new Int32(number)), { maxLength: 4 }),
);
const id = fc.oneof(
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.string({ maxLength: 20 }),
  fc.integer().map((number) => new Int32(number)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((number) => Long.fromBigInt(number)),
  fc.double().map((number) => new Double(number)),
  fc.dictionary(key, fc.integer().map((number) => new Int32(number)), { maxKeys: 2 }),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => new Binary(bytes, 4)),
);
/** Documents with their `_id` first (as MongoDB stores them) or anywhere (as some servers keep an insert's order). */
const document = fc.tuple(id, fc.dictionary(key, value, { maxKeys: 6 }), fc.nat(6)).map(([_id, fields, place]) => {
  const entries: [string, unknown][] = Object.entries(fields);
  entries.splice(Math.min(place, entries.length), 0, ['_id', _id]);
  return Buffer.from(BSON.serialize(Object.fromEntries(entries)));
});

function objectPath(documents: Buffer[], stream: ReturnType<typeof streamSchema.parse>, maxRecordBytes: number) {
  const records = [];
  let bytes = 0;
  let deadLettered = 0;
  let trimmed = 0;
  for (const bytesOfDocument of documents) {
    const encoded = recordsForCopy(BSON.deserialize(bytesOfDocument, RAW_VALUES), namespace, at, 'snap-1', stream, maxRecordBytes);
    records.push(...encoded.records);
    bytes += encoded.bytes;
    if (encoded.deadLettered) deadLettered++;
    if (encoded.trimmed) trimmed++;
  }
  return { records, bytes, deadLettered, trimmed };
}

describe('CopyEncoder: records from BSON bytes equal the object path', () => {
  it('writes every chunk exactly as recordsForCopy does', () => {
    const stream = streamSchema.parse({ id: 's', database: 'shop', collection: 'orders' });
    let written = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.array(document, { maxLength: 8 }), (documents) => {
        const { viaObjects, ...encoded } = new CopyEncoder(namespace, at, 'snap-1', stream, 1_048_588).encode(documents);
        expect(encoded).toEqual(objectPath(documents, stream, 1_048_588));
        written += documents.length - viaObjects;
        total += documents.length;
      }),
      { numRuns: 500 },
    );
    // Most documents take the byte path (the rest have integer-like or repeated keys the generator happens to make).
    expect(written).toBeGreaterThan(total * 0.8);
  }, 120_000);

  it('sends oversize documents through the oversize policy, as recordsForCopy does', () => {
    const small = Buffer.from(BSON.serialize({ _id: new Int32(1), text: 'small' }));
    const large = Buffer.from(BSON.serialize({ _id: new Int32(2), text: 'x'.repeat(5_000) }));
    for (const oversize of ['dlq', 'trim'] as const) {
      const stream = streamSchema.parse({ id: 's', database: 'shop', collection: 'orders', oversize });
      const { viaObjects, ...encoded } = new CopyEncoder(namespace, at, 'snap-1', stream, 2_000).encode([small, large, small]);
      expect(encoded).toEqual(objectPath([small, large, small], stream, 2_000));
      expect(viaObjects).toBe(1);
      expect(oversize === 'dlq' ? encoded.deadLettered : encoded.trimmed).toBe(1);
    }
  });
});
