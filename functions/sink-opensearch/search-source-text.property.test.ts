import fc from 'fast-check';
import { Binary, BSONRegExp, type ChangeStreamDocument, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { parseCanonical, stringifyCanonical } from '../../shared/canonical-json';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../../shared/record-format';
import { prepareBatch } from '../../shared/sink-batch';
import { prefixNaming } from '../../shared/topic-naming';
import { bulkBody, bulkBodyBytes } from './bulk-request';
import { searchDocumentJson } from './search-document';
import { searchSourceText } from './search-source-text';

/**
 * The sink writes each document's `_bulk` source line from the record's text (searchSourceText, with the event around
 * it read by decodeRelayEventText); the object path parses the record and writes the BSON values. For any record,
 * both must give the same bulk body and the same dead letters, whichever path the text path takes or leaves.
 */

const namings = [prefixNaming('mongo-cdc')];

// Field names: ordinary ones, ones that need escaping, unicode, and ones that change how JavaScript orders or stores a field.
const name = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('_id', 'mongo_id', 'mongo_unindexed', '__proto__', 'constructor', '0', '7', '01', '-1', '4294967294', '1e3', 'a"b', 'tab\there', '$x', 'x$', 'fullDocument', '\u0000'),
);

const scalar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.integer().map((value) => new Int32(value)),
  fc.double().map((value) => new Double(value)),
  fc.constantFrom(new Double(-0), new Double(Number.NaN), new Double(Number.POSITIVE_INFINITY), new Double(1e21), new Double(5e-324), new Double(2 ** 53 + 2)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => Long.fromBigInt(value)),
  fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }).map((value) => Long.fromBigInt(value)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.date({ noInvalidDate: false }),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((value) => new Timestamp(value)),
  fc.integer({ min: -1000, max: 1000 }).map((value) => Decimal128.fromString(`${value}E-2`)),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => new Binary(bytes)),
  fc.constantFrom(new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d'), new BSONRegExp('^a', 'i'), new MinKey(), new MaxKey(), new Code('x => x')),
);

/** The kinds nearly every document is made of, under plain names: the text path's own ground. */
const common = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.integer().map((value) => new Int32(value)),
    fc.double().map((value) => new Double(value)),
    fc.integer({ min: -(2 ** 50), max: 2 ** 50 }).map((value) => Long.fromNumber(value)),
    fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
    fc.date({ noInvalidDate: true }),
    tie('array'),
    tie('document'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  document: fc.array(fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }).filter((text) => !/^[\d$]/.test(text) && text !== '__proto__'), tie('value')), { maxLength: 5 }).map(objectOf),
})).value;

/** A plain object from entries, every name an own field (defineProperty, so "__proto__" is one too). */
function objectOf(entries: Array<[string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  return object;
}

const values = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('document'), tie('array')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  document: fc.array(fc.tuple(name, tie('value')), { maxLength: 6 }).map(objectOf),
}));
const subDocument = values.document as fc.Arbitrary<Record<string, unknown>>;

/** Deep nesting: a chain of sub-documents and arrays around a value. */
const deep = fc
  .tuple(fc.array(fc.tuple(fc.boolean(), name), { minLength: 20, maxLength: 60 }), scalar)
  .map(([levels, inner]) => levels.reduce<unknown>((value, [asArray, field]) => (asArray ? [value, inner] : objectOf([[field, value]])), inner));

const ids = fc.oneof(
  fc.integer().map((value) => new Int32(value)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => Long.fromBigInt(value)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.double().map((value) => new Double(value)),
  fc.constantFrom(new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d'), new Date(0), { a: 1, b: 'x' }, [1, 2]),
);

/** A full document: usually `_id` first, as MongoDB keeps it; sometimes later or missing. */
const fullDocuments = fc
  .tuple(fc.option(ids, { freq: 8 }), fc.array(fc.tuple(name, fc.oneof({ weight: 4, arbitrary: values.value }, deep, { weight: 8, arbitrary: common })), { maxLength: 8 }), fc.nat(10))
  .map(([id, entries, place]) => {
    if (id === null) return { id: undefined, document: objectOf(entries) };
    const at = place < 8 ? 0 : Math.min(place - 7, entries.length);
    return { id, document: objectOf([...entries.slice(0, at), ['_id', id], ...entries.slice(at)]) };
  });

/** A document of the common kinds under plain names, with an `_id` of a kind MongoDB generates or users choose most. */
const plainDocuments = fc
  .tuple(
    fc.oneof(
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
      fc.integer().map((value) => new Int32(value)),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
    ),
    fc.array(fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).filter((text) => !/^[\d$]/.test(text) && text !== '__proto__' && text !== '_id' && text !== 'mongo_id'), common), { maxLength: 8 }),
  )
  .map(([id, entries]) => ({ id, document: objectOf([['_id', id], ...entries]) }));

/**
 * Documents as the relay's records mostly hold them (plainDocuments), among ones of every kind: so that a good share
 * of the generated records takes the text path, which the tests require, and every kind still comes up.
 */
const documents = fc.oneof({ weight: 3, arbitrary: fullDocuments }, { weight: 2, arbitrary: plainDocuments });

/** Ways a producer other than the relay may write the same value, or a broken one: each must end as the object path ends it. */
const mutations: Array<(text: string) => string> = [
  (text) => text,
  (text) => text.replace(/,"/, ', "'),
  (text) => text.replace(/\{"\$numberInt":"(-?\d+)"\}/, '$1'),
  (text) => text.replace(/"\$oid":"([0-9a-f]{24})"/, (_, hex: string) => `"$oid":"${hex.toUpperCase()}"`),
  (text) => text.replace(/"\$numberInt":"(\d)/, '"$numberInt":"0$1'),
  (text) => text.replace(/"\$numberLong":"(-?\d+)"/, '"$numberLong":"9$1999999999999999"'),
  (text) => text.replace(/"([a-z])/, (_, letter: string) => `"\\u00${letter.charCodeAt(0).toString(16)}`),
  (text) => text.replace(/"fullDocument":\{"_id":([^,}]+|\{[^}]*\})/, '"fullDocument":{"_id":$1,"_id":$1'),
  (text) => text.replace(/"fullDocument":\{/, '"fullDocument":{"n":{"$numberDecimal":"1.5"},'),
  (text) => text.replace(/"fullDocument":\{/, '"fullDocument":{"d":{"$date":"2024-01-01T00:00:00Z"},'),
  (text) => text.replace(/"fullDocument":\{/, '"fullDocument":{"x":{"$numberInt":"x"},'),
  (text) => text.replace(/"fullDocument":\{/, '"fullDocument":{"x":{"$oid":"zz"},'),
  (text) => text.replace(/"fullDocument":\{/, '"fullDocument":{"x":{"$numberDouble":"12abc"},'),
  (text) => text.replace(/"_cdc":\{"v":\{"\$numberInt":"2"\}/, '"_cdc":{"v":{"$numberInt":"9"}'),
  (text) => text.replace(/"ordinal":\{"\$numberInt":"\d+"\}/, '"ordinal":{"$numberInt":"3000000000"}'),
  (text) => text.replace(/"documentKey":\{/, '"documentKey":{"shard":"a",'),
  (text) => text.replace(/"ns":\{"db":"shop","coll":"orders"\}/, '"ns":{"db":"shop"}'),
  (text) => text.replace(/"fullDocument":\{.*\},"_cdc"/, '"fullDocument":[1],"_cdc"'),
  (text) => text.replace(/,"_cdc"/, ',"fullDocument":{"a":"again"},"_cdc"'),
  (text) => text.replace(/"operationType":"insert"/, '"operationType":"drop"'),
  (text) => text.slice(0, -1),
  (text) => `${text} `,
];

const changes = fc.record({
  operation: fc.constantFrom('insert', 'replace', 'update', 'delete'),
  withDocument: fc.boolean(),
  updateDescription: fc.boolean(),
  wallTime: fc.boolean(),
  increment: fc.integer({ min: 1, max: 5 }),
  ordinal: fc.nat(3),
  trimmed: fc.boolean(),
  snapshot: fc.option(fc.string({ maxLength: 6 })),
  full: documents,
  extra: fc.option(subDocument, { freq: 6 }),
  mutation: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, fc.nat(mutations.length - 1)),
  keyFromValue: fc.boolean(),
});

type GeneratedChange = typeof changes extends fc.Arbitrary<infer T> ? T : never;

function recordOf(change: GeneratedChange, offset: number): SourceRecord {
  const { id, document } = change.full;
  const event = {
    _id: { _data: `token${offset}` },
    operationType: change.operation,
    clusterTime: new Timestamp({ t: 1_790_000_000, i: change.increment }),
    ...(change.wallTime ? { wallTime: new Date(1_790_000_000_000 + offset) } : {}),
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: id ?? offset },
    ...(change.updateDescription && change.operation === 'update' ? { updateDescription: { updatedFields: change.extra ?? { a: 1 }, removedFields: ['b'] } } : {}),
    ...(change.operation === 'delete' && !change.withDocument ? {} : { fullDocument: change.withDocument ? document : null }),
  };
  const encoded = encodeChangeEvent(event as unknown as ChangeStreamDocument, {
    ordinal: change.ordinal,
    ...(change.trimmed ? { trimmed: true } : {}),
    ...(change.snapshot !== null ? { snapshot: change.snapshot } : {}),
  });
  const mutate = mutations[change.mutation] ?? ((text: string) => text);
  const value = mutate(encoded.value.toString('utf8'));
  // A mutated documentKey makes the key another document's unless the key is the mutated value's documentKey.
  const key = change.keyFromValue ? /"documentKey":(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})/.exec(value)?.[1] : undefined;
  return { topic: 'mongo-cdc.shop.orders', partition: 0, offset, key: key !== undefined ? Buffer.from(key) : encoded.key, value: Buffer.from(value), headers: encoded.headers };
}

function bodiesOf(records: SourceRecord[], text: boolean, sizeHint: number) {
  const prepared = prepareBatch(records, namings, text ? searchSourceText : undefined);
  const indexFor = (change: { namespace: { db: string; coll: string } }) => `${change.namespace.db}-${change.namespace.coll}`;
  const body = bulkBody(prepared.changes, indexFor, new Map());
  // The bytes the store sends: the body's UTF-8, however the buffer had to grow from the hint.
  expect(bulkBodyBytes(prepared.changes, indexFor, new Map(), sizeHint).equals(Buffer.from(body, 'utf8'))).toBe(true);
  return {
    body,
    identities: prepared.changes.map((change) => [
      change.identity,
      change.kind,
      change.operationType,
      change.namespace,
      // The documentKey as BSON values (Int32, ObjectId, ...), which the text path builds without parsing the key.
      change.documentKey,
      change.version,
      change.clusterTimeMs,
      change.record.offset,
    ]),
    malformed: prepared.malformed.map((bad) => [bad.record.offset, bad.code, bad.reason]),
    counts: prepared.counts,
    textWritten: prepared.changes.filter((change) => change.documentText !== undefined).length,
    upserts: prepared.changes.filter((change) => change.kind === 'upsert').length,
  };
}

describe('search source from the record text', () => {
  it('gives the bulk body, changes and dead letters the object path gives, for generated batches', () => {
    let written = 0;
    let upserts = 0;
    fc.assert(
      fc.property(fc.array(changes, { minLength: 1, maxLength: 6 }), fc.nat(4096), (batch, sizeHint) => {
        const records = batch.map((change, offset) => recordOf(change, offset));
        const { textWritten, ...viaText } = bodiesOf(records, true, sizeHint);
        const { textWritten: _none, ...viaObjects } = bodiesOf(records, false, sizeHint);
        expect(viaText).toEqual(viaObjects);
        written += textWritten;
        upserts += viaObjects.upserts;
      }),
      { numRuns: 1500 },
    );
    // The text path must actually be taken, not only left: most generated upserts are ones it writes.
    expect(written / upserts).toBeGreaterThan(0.3);
  }, 240_000);

  it('is searchDocumentJson of the parsed document for any document text, or leaves it', () => {
    let written = 0;
    let tried = 0;
    fc.assert(
      fc.property(documents, fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, fc.nat(mutations.length - 1)), ({ document }, mutation) => {
        let text: string;
        try {
          text = stringifyCanonical(document);
        } catch {
          return; // the codec refuses it (e.g. a name with "\u0000"): no record holds it
        }
        const wrapped = (mutations[mutation] ?? ((value: string) => value))(`{"fullDocument":${text},"_cdc"`);
        const source = wrapped.slice('{"fullDocument":'.length, wrapped.lastIndexOf(',"_cdc"'));
        const viaText = searchSourceText(`${source}!`, 0);
        tried++;
        if (viaText === undefined) return;
        written++;
        // What it read (up to `end`) must parse, as a document, to the very source it wrote.
        const parsed = parseCanonical(source.slice(0, viaText.end));
        expect(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)).toBe(true);
        expect(viaText.text).toBe(searchDocumentJson(parsed as Record<string, unknown>));
      }),
      { numRuns: 3000 },
    );
    expect(written / tried).toBeGreaterThan(0.3);
  }, 240_000);

  it('writes the common kinds of values itself', () => {
    const document = { _id: new ObjectId('64b7f0c2a1b2c3d4e5f60718'), n: new Int32(-5), l: Long.fromNumber(2 ** 40), d: new Double(1.5), when: new Date(0), s: 'é"\n', a: [true, null, { x: new Double(Number.NaN) }] };
    const text = stringifyCanonical(document);
    expect(searchSourceText(text, 0)).toEqual({
      text: '{"mongo_id":"64b7f0c2a1b2c3d4e5f60718","n":-5,"l":1099511627776,"d":1.5,"when":"1970-01-01T00:00:00.000Z","s":"é\\"\\n","a":[true,null,{"x":null}]}',
      end: text.length,
    });
  });
});
