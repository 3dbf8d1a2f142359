import fc from 'fast-check';
import { Binary, BSONRegExp, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { parseCanonical, stringifyCanonical } from '../../shared/canonical-json';
import { searchDocumentJson, toSearchDocument } from './search-document';

/**
 * searchDocumentJson writes the `_bulk` source line straight from BSON values; it must be JSON.stringify of
 * toSearchDocument character for character, over every kind of value and field name a document can hold.
 */

// Field names that change how JavaScript orders or stores a field, besides ordinary ones.
const name = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 8 }).filter((text) => !text.startsWith('$') && !text.includes('\u0000')),
  fc.constantFrom('_id', 'mongo_id', 'mongo_unindexed', '__proto__', 'constructor', '0', '7', '01', '-1', '4294967294', '4294967295', '1e3', 'version', '_bsontype'),
);

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer().map((value) => new Int32(value)),
  fc.double().map((value) => new Double(value)),
  fc.constantFrom(new Double(-0), new Double(Number.NaN), new Double(Number.POSITIVE_INFINITY), new Double(1e21), new Double(5e-324)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => Long.fromBigInt(value)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.date(),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((value) => new Timestamp(value)),
  fc.integer({ min: -1000, max: 1000 }).map((value) => Decimal128.fromString(`${value}E-2`)),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => new Binary(bytes)),
  fc.constantFrom(new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d'), new BSONRegExp('^a', 'i'), /b+/g, new MinKey(), new MaxKey(), new Code('x => x')),
);

/** A plain object from entries, every name an own field (defineProperty, so "__proto__" is one too). */
function objectOf(entries: Array<[string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

const documents = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('document'), tie('array')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  document: fc.array(fc.tuple(name, tie('value')), { maxLength: 6 }).map(objectOf),
})).document as fc.Arbitrary<Record<string, unknown>>;

const RUNS = { numRuns: 500 };

/** The text, or the error, a way of writing gives: a document one refuses the other must refuse alike. */
function outcomeOf(write: () => string): { text: string } | { error: string } {
  try {
    return { text: write() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

function sameAsGeneral(document: Record<string, unknown>): void {
  expect(outcomeOf(() => searchDocumentJson(document))).toEqual(outcomeOf(() => JSON.stringify(toSearchDocument(document))));
}

describe('search document JSON', () => {
  it('is JSON.stringify(toSearchDocument(document)) for generated documents', () => {
    fc.assert(
      fc.property(documents, sameAsGeneral),
      RUNS,
    );
  }, 120_000);

  it('is JSON.stringify(toSearchDocument(document)) for documents as a sink decodes them from a record', () => {
    fc.assert(
      fc.property(documents, (generated) => {
        let decoded: Record<string, unknown>;
        try {
          decoded = parseCanonical(stringifyCanonical(generated)) as Record<string, unknown>;
        } catch {
          return; // a document the codec itself refuses never reaches a sink
        }
        sameAsGeneral(decoded);
      }),
      RUNS,
    );
  }, 120_000);

  it('puts mongo_id first and leaves out the _id, undefined fields and a "__proto__" field, as toSearchDocument does', () => {
    const document = objectOf([
      ['a', new Int32(1)],
      ['_id', new ObjectId('64b7f0c2a1b2c3d4e5f60718')],
      ['gone', undefined],
      ['__proto__', { x: 1 }],
      ['b', [new Double(Number.NaN), undefined, { c: new Long(5) }]],
    ]);
    expect(searchDocumentJson(document)).toBe('{"mongo_id":"64b7f0c2a1b2c3d4e5f60718","a":1,"b":[null,null,{"c":5}]}');
    expect(searchDocumentJson(document)).toBe(JSON.stringify(toSearchDocument(document)));
  });

  it('keeps the order toSearchDocument gives index-like field names and a field named mongo_id', () => {
    for (const document of [objectOf([['_id', 1], ['b', 2], ['5', 3]]), objectOf([['_id', 1], ['mongo_id', 'mine'], ['b', 2]])]) {
      expect(searchDocumentJson(document)).toBe(JSON.stringify(toSearchDocument(document)));
    }
  });
});
