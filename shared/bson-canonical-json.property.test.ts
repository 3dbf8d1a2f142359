import fc from 'fast-check';
import {
  Binary,
  BSON,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { BsonCanonicalJsonWriter, NeedsObjectPath } from './bson-canonical-json';
import { stringifyCanonical } from './canonical-json';

/**
 * The BSON-bytes writer against the object path it stands in for: for every generated document, its output is
 * byte for byte what stringifyCanonical (and bson's own EJSON.stringify) writes for the document BSON.deserialize
 * gives with the snapshot's options, or it refuses the document (NeedsObjectPath) and the caller takes that path.
 */

const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;
const CANONICAL = { relaxed: false } as const;

const objectPath = (bytes: Buffer) => BSON.deserialize(bytes, RAW_VALUES);

/** The writer's text, or undefined when it refuses the document. */
function written(bytes: Buffer): string | undefined {
  const writer = new BsonCanonicalJsonWriter(16);
  try {
    writer.document(bytes, 0);
  } catch (error) {
    if (error instanceof NeedsObjectPath) return undefined;
    throw error;
  }
  return writer.take().toString('utf8');
}

// Field names: any text without NUL (BSON keys are C strings), including "$"-led, integer-like and "__proto__".
const key = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }).filter((name) => !name.includes('\u0000')) },
  { weight: 1, arbitrary: fc.constantFrom('_id', '__proto__', '0', '7', '4294967294', '4294967295', '01', '$ref', '$id', 'a"b\\c', '\u2028', '\t\n') },
);

const edgeDoubles = fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, -5e-324, 1e21, 1e300, 2 ** 53, 0.1, -1.5, 123456789.125);
const edgeLongs = fc.constantFrom(0n, -1n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 4294967296n, -4294967296n);

const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.string({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer().map((value) => new Int32(value)),
  fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0, -1, 9, 10, 99, 100).map((value) => new Int32(value)),
  fc.oneof(fc.double(), edgeDoubles).map((value) => new Double(value)),
  fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), edgeLongs).map((value) => Long.fromBigInt(value)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.date({ noInvalidDate: true }),
  fc.constantFrom(new Date(-8.64e15), new Date(8.64e15), new Date(0), new Date(-1), new Date(253402300799999)),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((value) => new Timestamp(value)),
  fc.constantFrom(new Timestamp({ t: 0xffff_ffff, i: 0xffff_ffff }), new Timestamp({ t: 0, i: 0 })),
  fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: -20, max: 20 })).map(([digits, exponent]) => Decimal128.fromString(`${digits}E${exponent}`)),
  fc.constantFrom(Decimal128.fromString('NaN'), Decimal128.fromString('-0'), Decimal128.fromString('1E+6144')),
  fc.tuple(fc.uint8Array({ maxLength: 32 }), fc.constantFrom(0, 4, 128)).map(([bytes, subtype]) => new Binary(bytes, subtype)),
  fc.tuple(fc.string({ maxLength: 8 }).filter((text) => !text.includes('\u0000')), fc.constantFrom('', 'i', 'imsx')).map(([pattern, flags]) => new BSONRegExp(pattern, flags)),
  fc.string({ maxLength: 10 }).map((code) => new Code(code)),
  fc.string({ maxLength: 10 }).map((code) => new Code(code, { x: new Int32(1) })),
  fc.string({ maxLength: 10 }).map((text) => new BSONSymbol(text)),
  fc.constantFrom(new MinKey(), new MaxKey()),
);

function documents() {
  return fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('document'), tie('array')),
    array: fc.array(tie('value'), { maxLength: 6 }),
    document: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
  })).document;
}

const RUNS = { numRuns: 1000 };

describe('BSON bytes to canonical Extended JSON', () => {
  it('writes every document it accepts exactly as the object path and bson do', () => {
    let accepted = 0;
    fc.assert(
      fc.property(documents(), (doc) => {
        const bytes = Buffer.from(BSON.serialize(doc));
        const text = written(bytes);
        if (text === undefined) return;
        accepted++;
        const decoded = objectPath(bytes);
        expect(text).toBe(stringifyCanonical(decoded));
        expect(text).toBe(BSON.EJSON.stringify(decoded, CANONICAL));
      }),
      RUNS,
    );
    // The refusals are the rare shapes; most generated documents must take the byte path.
    expect(accepted).toBeGreaterThan(RUNS.numRuns / 4);
  }, 120_000);

  it('keeps every text it handed out unchanged while it writes the next ones, across its memory filling up', () => {
    fc.assert(
      fc.property(fc.array(documents(), { minLength: 2, maxLength: 12 }), (docs) => {
        // A small memory fills up within a few documents, so texts are handed out from several of them, and a refused
        // document (discarded half-written) sits between others.
        const writer = new BsonCanonicalJsonWriter(64);
        const taken: Array<{ text: Buffer; expected: string }> = [];
        for (const doc of docs) {
          const bytes = Buffer.from(BSON.serialize(doc));
          try {
            writer.document(bytes, 0);
          } catch (error) {
            if (!(error instanceof NeedsObjectPath)) throw error;
            writer.discard();
            continue;
          }
          taken.push({ text: writer.take(), expected: stringifyCanonical(objectPath(bytes)) });
        }
        for (const { text, expected } of taken) expect(text.toString('utf8')).toBe(expected);
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('accepts documents of the common types and plain keys', () => {
    const plain = fc.dictionary(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((name) => !/^[$0-9]/.test(name) && !name.includes('\u0000')),
      fc.oneof(fc.string(), fc.integer().map((value) => new Int32(value)), fc.double().map((value) => new Double(value)), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: true })),
      { maxKeys: 8 },
    );
    fc.assert(
      fc.property(plain, (doc) => {
        const bytes = Buffer.from(BSON.serialize(doc));
        expect(written(bytes)).toBe(stringifyCanonical(objectPath(bytes)));
      }),
      RUNS,
    );
  }, 120_000);

  it('refuses what the object path changes: integer-like keys, $ keys, DBRefs', () => {
    expect(written(Buffer.from(BSON.serialize({ b: 1, 2: 'x' })))).toBeUndefined();
    expect(written(Buffer.from(BSON.serialize({ a: { $ref: 'c', $id: 1 } })))).toBeUndefined();
    expect(written(Buffer.from(BSON.serialize({ a: { $x: 1 } })))).toBeUndefined();
    // Not array indexes: kept in place by JavaScript, so written in place.
    expect(written(Buffer.from(BSON.serialize({ b: 1, '01': 2, '4294967295': 3, '2x': 4 })))).toBe(stringifyCanonical(objectPath(Buffer.from(BSON.serialize({ b: 1, '01': 2, '4294967295': 3, '2x': 4 })))));
  });

  it('refuses duplicate keys, which a JavaScript object merges', () => {
    const bytes = Buffer.from(BSON.serialize({ a: 1, b: 2 }));
    // Rename "b" to "a": {a: 1, a: 2}.
    bytes[bytes.indexOf(0x62)] = 0x61;
    expect(written(bytes)).toBeUndefined();
  });

  it('refuses invalid UTF-8 in a key (the object path replaces it) and in a string (the object path throws)', () => {
    const inKey = Buffer.from(BSON.serialize({ ab: 1 }));
    inKey[inKey.indexOf(0x61)] = 0xc3;
    inKey[inKey.indexOf(0x62)] = 0x28;
    expect(written(inKey)).toBeUndefined();
    const inString = Buffer.from(BSON.serialize({ s: 'ab' }));
    inString[inString.length - 3] = 0xff;
    expect(written(inString)).toBeUndefined();
    expect(() => objectPath(inString)).toThrow(/UTF-8/);
  });

  it('writes long strings, where plain ASCII is scanned four bytes a step, as the object path does, whatever stops a run where', () => {
    // Mostly plain ASCII, with every kind of byte that ends a run (and its neighbours) anywhere, at any alignment.
    const character = fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom('a', 'Z', ' ', '~', '!', '#', '[', ']', '\u007f') },
      { weight: 1, arbitrary: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', 'é', '\u2028', '😀', '\u0080', '\u00ff') },
    );
    fc.assert(
      fc.property(fc.array(character, { maxLength: 300 }).map((chars) => chars.join('')), fc.nat(3), (text, keyPad) => {
        // The key's length moves the string to every alignment within a word.
        const bytes = Buffer.from(BSON.serialize({ [`k${'x'.repeat(keyPad)}`]: text }));
        expect(written(bytes)).toBe(stringifyCanonical(objectPath(bytes)));
      }),
      RUNS,
    );
  });

  it('writes NUL and every control character inside strings as JSON.stringify does', () => {
    const text = `${Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)).join('')}"\\\u007f\u2028é😀`;
    const bytes = Buffer.from(BSON.serialize({ s: text }));
    expect(written(bytes)).toBe(stringifyCanonical(objectPath(bytes)));
  });

  it('writes dates outside JavaScript\'s range as the object path does', () => {
    const bytes = Buffer.from(BSON.serialize({ d: new Date(0) }));
    // 2^60 milliseconds: beyond what a JavaScript Date holds.
    bytes.writeBigInt64LE(2n ** 60n, bytes.length - 9);
    expect(written(bytes)).toBe(stringifyCanonical(objectPath(bytes)));
  });

  it('refuses corrupt documents (the object path names the problem)', () => {
    const bytes = Buffer.from(BSON.serialize({ a: 'text' }));
    bytes.writeInt32LE(1000, 7);
    expect(written(bytes)).toBeUndefined();
    expect(written(bytes.subarray(0, 3))).toBeUndefined();
  });
});
