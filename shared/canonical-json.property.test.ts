import fc from 'fast-check';
import { Binary, BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { parseCanonical, stringifyCanonical, stringifyCanonicalWithMember } from './canonical-json';

/**
 * The canonical Extended JSON codec against the library it replaces, over generated documents: every BSON type the
 * fast paths handle (and some they leave to bson), edge values (-0, NaN, infinities, 32/64-bit limits, unicode), deep
 * nesting and arrays. Encoding must equal BSON.EJSON.stringify byte for byte; decoding must give what BSON.EJSON.parse
 * gives (compared through bson's own canonical writer, which tells Int32, Int64 and Double apart).
 */

const CANONICAL = { relaxed: false } as const;
const bsonText = (value: unknown) => BSON.EJSON.stringify(value, CANONICAL);

// Field names as documents have them; "$"-led names and NUL bytes are not valid field names for either codec.
const key = fc.string({ unit: 'binary', maxLength: 10 }).filter((name) => !name.startsWith('$') && !name.includes('\u0000'));

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.boolean(),
  fc.constant(null),
  fc.integer().map((value) => new Int32(value)),
  fc.double().map((value) => new Double(value)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => Long.fromBigInt(value)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.date({ noInvalidDate: true }),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((value) => new Timestamp(value)),
  fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -20, max: 20 })).map(([digits, exponent]) => Decimal128.fromString(`${digits}E${exponent}`)),
  fc.uint8Array({ maxLength: 32 }).map((bytes) => new Binary(bytes)),
);

// Bare JavaScript numbers: typed as bson types them (Int32, then Int64, else Double). 2^63 is written as an Int64 by
// bson though it does not fit one, so such documents do not round-trip through bson either: parity only.
const bareNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 2 ** 63, -0));

/** Documents of BSON-typed values, as the driver decodes them; with `bareNumbers`, JavaScript numbers too. */
function documents(bareNumbers: boolean) {
  const leaf = bareNumbers ? fc.oneof(scalar, bareNumber) : scalar;
  return fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('document'), tie('array')),
    array: fc.array(tie('value'), { maxLength: 6 }),
    document: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
  })).document;
}

const RUNS = { numRuns: 300 };

describe('canonical EJSON codec: parity with bson over generated documents', () => {
  it('encodes every document exactly as BSON.EJSON.stringify does', () => {
    fc.assert(
      fc.property(documents(true), (doc) => {
        expect(stringifyCanonical(doc)).toBe(bsonText(doc));
      }),
      RUNS,
    );
  }, 120_000);

  it('appends a member exactly as stringifying the spread { ...document, [name]: member } does', () => {
    fc.assert(
      fc.property(documents(true), key, documents(false), (doc, name, member) => {
        expect(stringifyCanonicalWithMember(doc, name, member)).toBe(bsonText({ ...doc, [name]: member }));
      }),
      RUNS,
    );
  }, 120_000);

  it('decodes every encoded document as BSON.EJSON.parse does', () => {
    fc.assert(
      fc.property(documents(true), (doc) => {
        const text = bsonText(doc);
        expect(bsonText(parseCanonical(text))).toBe(bsonText(BSON.EJSON.parse(text, CANONICAL)));
      }),
      RUNS,
    );
  }, 120_000);

  it('writes a decoded document to text that decodes and writes back to itself (sinks compare keys by that text)', () => {
    fc.assert(
      fc.property(documents(true), (doc) => {
        const text = stringifyCanonical(parseCanonical(stringifyCanonical(doc)));
        expect(stringifyCanonical(parseCanonical(text))).toBe(text);
      }),
      RUNS,
    );
  }, 120_000);

  it('round-trips every document of BSON values to the same text', () => {
    fc.assert(
      fc.property(documents(false), (doc) => {
        const text = stringifyCanonical(doc);
        expect(stringifyCanonical(parseCanonical(text))).toBe(text);
      }),
      RUNS,
    );
  }, 120_000);
});

describe('canonical EJSON codec: Timestamps, which every change event holds as its clusterTime', () => {
  // Whole numbers up to 2^32 - 1 (bson reads t and i from 2^31 on as Int64), and shapes bson refuses or reads its own way.
  const texts = [
    '{"$timestamp":{"t":0,"i":0}}',
    '{"$timestamp":{"t":1790000000,"i":1}}',
    '{"$timestamp":{"i":7,"t":1790000000}}',
    '{"$timestamp":{"t":2147483647,"i":2147483648}}',
    '{"$timestamp":{"t":4294967295,"i":4294967295}}',
    '{"$timestamp":{"t":4294967296,"i":1}}',
    '{"$timestamp":{"t":-1,"i":1}}',
    '{"$timestamp":{"t":1.5,"i":1}}',
    '{"$timestamp":{"t":1,"i":2,"x":3}}',
    '{"$timestamp":{"t":1}}',
    '{"$timestamp":{"t":"1","i":2}}',
    '{"$timestamp":[1,2]}',
    '{"$timestamp":null}',
  ];

  it.each(texts)('decodes %s as BSON.EJSON.parse does, or fails as it does', (text) => {
    const document = `{"a":${text}}`;
    let expected: string;
    try {
      expected = bsonText(BSON.EJSON.parse(document, CANONICAL));
    } catch (error) {
      expect(() => parseCanonical(document)).toThrow((error as Error).message);
      return;
    }
    expect(bsonText(parseCanonical(document))).toBe(expected);
  });

  it('decodes generated Timestamps over the whole unsigned 32-bit range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }), (t, i) => {
        const text = `{"ts":{"$timestamp":{"t":${t},"i":${i}}}}`;
        expect(bsonText(parseCanonical(text))).toBe(bsonText(BSON.EJSON.parse(text, CANONICAL)));
      }),
      RUNS,
    );
  });

  it('keeps a field named __proto__ a field when its value is revived', () => {
    const parsed = parseCanonical('{"__proto__":{"$numberInt":"1"},"b":{"$numberInt":"2"}}') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'b']);
    expect(bsonText(parsed)).toBe(bsonText(BSON.EJSON.parse('{"__proto__":{"$numberInt":"1"},"b":{"$numberInt":"2"}}', CANONICAL)));
  });
});
