import {
  Binary,
  BSON,
  BSONRegExp,
  type ChangeStreamDocument,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from './errors';
import { type DecodedChangeEvent, decodeRecord, encodeChangeEvent, FORMAT_VERSION, tombstoneFor } from './record-format';
import { parseCanonical, stringifyCanonical } from './canonical-json';

const canonical = (value: unknown) => BSON.EJSON.stringify(value, { relaxed: false });
const CLUSTER_TIME = new Timestamp({ t: 1_800_000_000, i: 5 });
const OBJECT_ID = '5f1d7f1b9d1e8a3b2c4d5e6f';

/** Test events are built loosely: the stand-in server and older servers leave fields out, and the encoder must cope. */
const asEvent = (fields: Record<string, unknown>) => fields as unknown as ChangeStreamDocument;

function insertEvent(fullDocument: Record<string, unknown>, overrides: Record<string, unknown> = {}): ChangeStreamDocument {
  return asEvent({
    _id: { _data: '8265F1A2B3000000052B022C0100296E5A1004' },
    operationType: 'insert',
    clusterTime: CLUSTER_TIME,
    wallTime: new Date('2027-01-15T08:00:00.123Z'),
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: fullDocument._id },
    fullDocument,
    ...overrides,
  });
}

function decodeEvent(record: { key: Buffer; value: Buffer }): DecodedChangeEvent {
  const decoded = decodeRecord(record);
  if (decoded.tombstone) throw new Error('expected an event, got a tombstone');
  return decoded;
}

function fullDocumentOf(decoded: DecodedChangeEvent): Record<string, unknown> {
  return (decoded.event as unknown as { fullDocument: Record<string, unknown> }).fullDocument;
}

function rejection(input: { key: Buffer | null; value: Buffer | null }): CdcError {
  try {
    decodeRecord(input);
  } catch (error) {
    if (error instanceof CdcError) return error;
    throw error;
  }
  throw new Error('expected decodeRecord to throw');
}

const everyType = {
  _id: new ObjectId(OBJECT_ID),
  decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
  longMax: Long.MAX_VALUE,
  longMin: Long.MIN_VALUE,
  int32: new Int32(-7),
  int32Max: new Int32(2_147_483_647),
  negativeZero: new Double(-0),
  nan: new Double(Number.NaN),
  infinity: new Double(Number.POSITIVE_INFINITY),
  negativeInfinity: new Double(Number.NEGATIVE_INFINITY),
  wholeDouble: new Double(1),
  fraction: new Double(0.1),
  beforeEpoch: new Date('1901-12-13T20:45:52.001Z'),
  millisecond: new Date('2024-02-29T23:59:59.999Z'),
  binaryGeneric: new Binary(Buffer.from([0, 1, 2, 254, 255]), 0),
  binaryOldUuid: new Binary(Buffer.alloc(16, 3), 3),
  uuid: new UUID('0f8fad5b-d9cb-469f-a165-70867728950e'),
  binaryMd5: new Binary(Buffer.from('d41d8cd98f00b204e9800998ecf8427e', 'hex'), 5),
  binaryUserDefined: new Binary(Buffer.from('user bytes'), 0x80),
  emptyBinary: new Binary(Buffer.alloc(0), 0),
  timestamp: new Timestamp({ t: 0xffff_ffff, i: 0xffff_ffff }),
  regex: new BSONRegExp('^a\\.b$', 'imsx'),
  min: new MinKey(),
  max: new MaxKey(),
  code: new Code('function () { return 1; }'),
  nested: [[[{ deep: [new Int32(1), [], [{}]] }]], {}, [{ a: new Long('5') }, { b: null }]],
  'a.b': 'dotted',
  $price: new Decimal128('9.99'),
  dollarOnly: { $price: new Int32(5) },
  '': 'empty field name',
  'ключ 鍵 🔑': 'unicode field name',
  unicode: 'emoji 🚀👩‍👩‍👧 CJK 漢字かな 한국어 combining e\u0301 a\u030a RTL שלום',
  empty: '',
  emptyObject: {},
  emptyArray: [],
  nothing: null,
  yes: true,
};

describe('encodeChangeEvent / decodeRecord round trip', () => {
  const event = insertEvent(everyType);
  const record = encodeChangeEvent(event, { ordinal: 3 });
  const decoded = decodeEvent(record);
  const document = fullDocumentOf(decoded);

  it('brings the whole event back exactly, without the _cdc metadata', () => {
    expect(canonical(decoded.event)).toBe(canonical(event));
    expect(decoded.event).not.toHaveProperty('_cdc');
  });

  it.each<[string, (value: unknown) => void]>([
    ['decimal', (v) => expect((v as Decimal128).toString()).toBe('1234567890.123456789012345678901234')],
    ['longMax', (v) => expect((v as Long).toString()).toBe('9223372036854775807')],
    ['longMin', (v) => expect((v as Long).toString()).toBe('-9223372036854775808')],
    ['int32', (v) => expect(v).toEqual(new Int32(-7))],
    ['int32Max', (v) => expect(v).toEqual(new Int32(2_147_483_647))],
    ['negativeZero', (v) => expect(Object.is((v as Double).value, -0)).toBe(true)],
    ['nan', (v) => expect(Number.isNaN((v as Double).value)).toBe(true)],
    ['infinity', (v) => expect((v as Double).value).toBe(Number.POSITIVE_INFINITY)],
    ['negativeInfinity', (v) => expect((v as Double).value).toBe(Number.NEGATIVE_INFINITY)],
    ['wholeDouble', (v) => expect(v).toEqual(new Double(1))],
    ['fraction', (v) => expect((v as Double).value).toBe(0.1)],
    ['beforeEpoch', (v) => expect((v as Date).getTime()).toBe(Date.UTC(1901, 11, 13, 20, 45, 52, 1))],
    ['millisecond', (v) => expect((v as Date).toISOString()).toBe('2024-02-29T23:59:59.999Z')],
    ['binaryGeneric', (v) => expect([(v as Binary).sub_type, Buffer.from((v as Binary).buffer).toString('hex')]).toEqual([0, '000102feff'])],
    ['binaryOldUuid', (v) => expect([(v as Binary).sub_type, (v as Binary).length()]).toEqual([3, 16])],
    ['uuid', (v) => expect([(v as Binary).sub_type, Buffer.from((v as Binary).buffer).toString('hex')]).toEqual([4, '0f8fad5bd9cb469fa16570867728950e'])],
    ['binaryMd5', (v) => expect([(v as Binary).sub_type, Buffer.from((v as Binary).buffer).toString('hex')]).toEqual([5, 'd41d8cd98f00b204e9800998ecf8427e'])],
    ['binaryUserDefined', (v) => expect([(v as Binary).sub_type, Buffer.from((v as Binary).buffer).toString()]).toEqual([0x80, 'user bytes'])],
    ['emptyBinary', (v) => expect((v as Binary).length()).toBe(0)],
    ['_id', (v) => expect((v as ObjectId).toHexString()).toBe(OBJECT_ID)],
    ['timestamp', (v) => expect([(v as Timestamp).t, (v as Timestamp).i]).toEqual([0xffff_ffff, 0xffff_ffff])],
    ['regex', (v) => expect([(v as BSONRegExp).pattern, (v as BSONRegExp).options]).toEqual(['^a\\.b$', 'imsx'])],
    ['min', (v) => expect(v).toBeInstanceOf(MinKey)],
    ['max', (v) => expect(v).toBeInstanceOf(MaxKey)],
    ['code', (v) => expect((v as Code).code).toBe('function () { return 1; }')],
    ['nested', (v) => expect(canonical(v)).toBe(canonical(everyType.nested))],
    ['a.b', (v) => expect(v).toBe('dotted')],
    ['$price', (v) => expect((v as Decimal128).toString()).toBe('9.99')],
    ['dollarOnly', (v) => expect(v).toEqual({ $price: new Int32(5) })],
    ['', (v) => expect(v).toBe('empty field name')],
    ['ключ 鍵 🔑', (v) => expect(v).toBe('unicode field name')],
    ['unicode', (v) => expect(v).toBe(everyType.unicode)],
    ['empty', (v) => expect(v).toBe('')],
    ['emptyObject', (v) => expect(v).toEqual({})],
    ['emptyArray', (v) => expect(v).toEqual([])],
    ['nothing', (v) => expect(v).toBeNull()],
    ['yes', (v) => expect(v).toBe(true)],
  ])('keeps %s exactly', (field, check) => {
    // Assess: the type survives, not just a look-alike value
    expect(Object.hasOwn(document, field)).toBe(true);
    expect(canonical({ value: document[field] })).toBe(canonical({ value: everyType[field as keyof typeof everyType] }));
    check(document[field]);
  });

  it('returns the version, namespace, key and trimmed flag', () => {
    expect(decoded.version).toEqual({ seconds: 1_800_000_000, increment: 5, ordinal: 3 });
    expect(decoded.namespace).toEqual({ db: 'shop', coll: 'orders' });
    expect(decoded.documentKeyJson).toBe(`{"_id":{"$oid":"${OBJECT_ID}"}}`);
    expect(decoded.trimmed).toBe(false);
  });

  it('keeps every field of an update event with its pre-image and session', () => {
    // Prepare
    const update = asEvent({
      _id: { _data: '8265F1A2B3000000062B022C0100296E5A1004' },
      operationType: 'update',
      clusterTime: CLUSTER_TIME,
      wallTime: new Date('2027-01-15T08:00:00.456Z'),
      ns: { db: 'shop', coll: 'orders' },
      documentKey: { region: 'eu', _id: new Long('42') },
      updateDescription: {
        updatedFields: { 'items.0.qty': new Int32(2), 'total.amount': Decimal128.fromString('19.98') },
        removedFields: ['coupon'],
        truncatedArrays: [{ field: 'history', newSize: new Int32(3) }],
        disambiguatedPaths: { 'items.0.qty': ['items', new Int32(0), 'qty'] },
      },
      fullDocument: null,
      fullDocumentBeforeChange: { _id: new Long('42'), region: 'eu', coupon: 'SPRING' },
      txnNumber: new Long('7'),
      lsid: { id: new UUID('6ba7b810-9dad-11d1-80b4-00c04fd430c8'), uid: new Binary(Buffer.alloc(32, 9), 0) },
    });

    // Act
    const result = decodeEvent(encodeChangeEvent(update, { ordinal: 0 }));

    // Assess
    expect(canonical(result.event)).toBe(canonical(update));
    expect(result.documentKeyJson).toBe('{"region":"eu","_id":{"$numberLong":"42"}}');
  });
});

describe('encodeChangeEvent', () => {
  it('writes the documentKey as canonical Extended JSON and the event with _cdc as the value', () => {
    // Act
    const record = encodeChangeEvent(insertEvent({ _id: new ObjectId(OBJECT_ID), n: new Int32(1) }), { ordinal: 2 });

    // Assess
    expect(record.key.toString('utf8')).toBe(`{"_id":{"$oid":"${OBJECT_ID}"}}`);
    const value = JSON.parse(record.value.toString('utf8')) as Record<string, unknown>;
    expect(value._cdc).toEqual({ v: { $numberInt: '2' }, ordinal: { $numberInt: '2' } });
    expect(value.operationType).toBe('insert');
    expect(value.clusterTime).toEqual({ $timestamp: { t: 1_800_000_000, i: 5 } });
    expect(value.fullDocument).toEqual({ _id: { $oid: OBJECT_ID }, n: { $numberInt: '1' } });
  });

  it('writes one header, the format version (format 2 dropped the four that repeated the value)', () => {
    // Act
    const { headers } = encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 3 });
    const snapshot = encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 3, snapshot: 'snap-7' });

    // Assess
    expect(FORMAT_VERSION).toBe(2);
    expect(headers).toEqual({ 'cdc-format': '2' });
    expect(snapshot.headers).toEqual({ 'cdc-format': '2', 'cdc-snapshot': 'snap-7' });
  });

  it('writes the value byte for byte as the event with _cdc appended', () => {
    // Prepare
    const event = insertEvent({ _id: new ObjectId(OBJECT_ID), price: Decimal128.fromString('9.99'), at: new Date(0) });

    // Act
    const record = encodeChangeEvent(event, { ordinal: 4, trimmed: true });

    // Assess
    const expected = BSON.EJSON.stringify({ ...event, _cdc: { v: 2, ordinal: 4, trimmed: true } }, { relaxed: false });
    expect(record.value.toString('utf8')).toBe(expected);
  });

  it('gives equal document keys byte-identical record keys', () => {
    // Prepare: equal keys built from separate objects, as two events about one document would carry them
    const first = insertEvent({ _id: { tenant: new Long('9007199254740993'), id: new ObjectId(OBJECT_ID) }, v: 1 });
    const second = insertEvent({ _id: { tenant: Long.fromString('9007199254740993'), id: ObjectId.createFromHexString(OBJECT_ID) }, v: 2 });
    const other = insertEvent({ _id: { tenant: new Long('9007199254740994'), id: new ObjectId(OBJECT_ID) }, v: 1 });

    // Act
    const [a, b, c] = [first, second, other].map((event) => encodeChangeEvent(event, { ordinal: 0 }).key);

    // Assess
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });

  it('distinguishes keys that only a typed encoding tells apart', () => {
    // Prepare: 1 as Int32, Int64 and Double are three different _id values in MongoDB
    const ids = [new Int32(1), new Long('1'), new Double(1), '1'];

    // Act
    const keys = ids.map((id) => encodeChangeEvent(insertEvent({ _id: id }), { ordinal: 0 }).key.toString());

    // Assess
    expect(new Set(keys).size).toBe(ids.length);
  });

  it.each([
    [
      'drop',
      { operationType: 'drop', ns: { db: 'shop', coll: 'orders' } },
      '{"ns":{"db":"shop","coll":"orders"}}',
      'shop.orders',
    ],
    ['dropDatabase', { operationType: 'dropDatabase', ns: { db: 'shop' } }, '{"ns":{"db":"shop"}}', 'shop'],
    [
      'rename',
      { operationType: 'rename', ns: { db: 'shop', coll: 'orders' }, to: { db: 'shop', coll: 'archive' } },
      '{"ns":{"db":"shop","coll":"orders"}}',
      'shop.orders',
    ],
    ['invalidate', { operationType: 'invalidate' }, '{}', undefined],
  ])('keys a %s event by its namespace', (_what, fields, key, ns) => {
    // Prepare
    const event = asEvent({ _id: { _data: '82' }, clusterTime: CLUSTER_TIME, ...fields });

    // Act
    const record = encodeChangeEvent(event, { ordinal: 0 });
    const decoded = decodeEvent(record);

    // Assess
    expect(record.key.toString()).toBe(key);
    expect(decoded.namespace && [decoded.namespace.db, decoded.namespace.coll].filter(Boolean).join('.')).toBe(ns);
    expect(decoded.documentKeyJson).toBe(key);
    expect(canonical(decoded.event)).toBe(canonical(event));
  });

  it('encodes an event that lacks ns and wallTime, as the stand-in server sends them', () => {
    // Prepare
    const event = asEvent({ _id: { _data: '01' }, operationType: 'update', clusterTime: CLUSTER_TIME, documentKey: { _id: 7 } });

    // Act
    const record = encodeChangeEvent(event, { ordinal: 1 });
    const decoded = decodeEvent(record);

    // Assess
    expect(record.headers).toEqual({ 'cdc-format': String(FORMAT_VERSION) });
    expect(decoded.namespace).toBeUndefined();
    expect(decoded.version).toEqual({ seconds: 1_800_000_000, increment: 5, ordinal: 1 });
  });

  it('marks a trimmed event in the value', () => {
    // Act
    const record = encodeChangeEvent(insertEvent({ _id: 1 }, { fullDocument: undefined }), { ordinal: 0, trimmed: true });

    // Assess
    expect((JSON.parse(record.value.toString()) as { _cdc: unknown })._cdc).toEqual({
      v: { $numberInt: '2' },
      ordinal: { $numberInt: '0' },
      trimmed: true,
    });
    expect(decodeEvent(record).trimmed).toBe(true);
  });

  it('carries the largest ordinal a version holds', () => {
    // Act
    const decoded = decodeEvent(encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 0xffff_ffff }));

    // Assess
    expect(decoded.version.ordinal).toBe(0xffff_ffff);
  });

  it.each([
    ['missing', undefined],
    ['not a Timestamp', new Date(0)],
  ])('refuses an event whose clusterTime is %s, naming the field', (_what, clusterTime) => {
    // Prepare
    const event = insertEvent({ _id: 1 }, { clusterTime });

    // Act
    let error: unknown;
    try {
      encodeChangeEvent(event, { ordinal: 0 });
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(CdcError);
    expect(error).toMatchObject({ code: 'RECORD_MALFORMED', message: expect.stringMatching(/clusterTime/) });
  });

  it('refuses an ordinal that is not an unsigned 32-bit integer', () => {
    expect(() => encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: -1 })).toThrow(/ordinal -1/);
  });
});

describe('tombstoneFor', () => {
  it('keeps the key, has no value, and decodes as a tombstone for the same document', () => {
    // Prepare
    const record = encodeChangeEvent(insertEvent({ _id: new ObjectId(OBJECT_ID) }, { operationType: 'delete', fullDocument: undefined }), { ordinal: 0 });

    // Act
    const tombstone = tombstoneFor(record.key);
    const decoded = decodeRecord(tombstone);

    // Assess
    expect(tombstone.value).toBeNull();
    expect(tombstone.key.equals(record.key)).toBe(true);
    expect(decoded).toEqual({ tombstone: true, documentKeyJson: decodeEvent(record).documentKeyJson });
  });
});

describe('decodeRecord reads format 1', () => {
  it('decodes a record an older relay wrote (same key and value, _cdc.v 1, five headers) as the same event', () => {
    // Prepare: format 1's value differs from format 2's only in _cdc.v; its headers repeated the value
    const event = insertEvent({ _id: new ObjectId(OBJECT_ID), n: new Int32(1) });
    const current = encodeChangeEvent(event, { ordinal: 3 });
    const formatOne = {
      key: current.key,
      value: Buffer.from(BSON.EJSON.stringify({ ...event, _cdc: { v: 1, ordinal: 3 } }, { relaxed: false })),
      headers: { 'cdc-format': '1', 'cdc-op': 'insert', 'cdc-ns': 'shop.orders', 'cdc-cluster-time': '1800000000.5', 'cdc-version': '6b49d200-00000005-00000003' },
    };

    // Act
    const decoded = decodeEvent(formatOne);

    // Assess
    expect(decoded).toEqual(decodeEvent(current));
    expect(decoded.version).toEqual({ seconds: 1_800_000_000, increment: 5, ordinal: 3 });
  });
});

describe('decodeRecord rejects malformed records', () => {
  const key = Buffer.from(canonical({ _id: 1 }));
  const valid = JSON.parse(encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 0 }).value.toString()) as Record<string, unknown>;
  const withValue = (changes: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...valid, ...changes }));

  const cases: Array<[string, { key: Buffer | null; value: Buffer | null }, RegExp]> = [
    ['no key', { key: null, value: withValue({}) }, /record has no key/],
    ['a key that is not JSON', { key: Buffer.from([0xff, 0xfe, 0x00]), value: withValue({}) }, /key is not JSON/],
    ['a key that is not a document', { key: Buffer.from('[1]'), value: withValue({}) }, /key is not an Extended JSON document/],
    ['a key that is not JSON, before a value that is not either', { key: Buffer.from('{nope'), value: Buffer.from('{nope') }, /key is not JSON/],
    ['a key that is not a document, before a value without _cdc', { key: Buffer.from('[1]'), value: withValue({ _cdc: undefined }) }, /key is not an Extended JSON document/],
    ['bytes that are not JSON', { key, value: Buffer.from('{nope') }, /value is not JSON/],
    ['JSON that is not Extended JSON', { key, value: Buffer.from('{"a":{"$numberLong":"x"}}') }, /value is not valid Extended JSON/],
    ['a value that is not a document', { key, value: Buffer.from('[]') }, /value is not an Extended JSON document/],
    ['no _cdc', { key, value: withValue({ _cdc: undefined }) }, /value has no _cdc metadata/],
    ['a _cdc that is not a document', { key, value: withValue({ _cdc: 'v1' }) }, /_cdc is not a document/],
    ['a future format', { key, value: withValue({ _cdc: { v: 3, ordinal: 0 } }) }, /_cdc.v is .*understands 1 and 2/],
    ['a negative ordinal', { key, value: withValue({ _cdc: { v: 1, ordinal: -1 } }) }, /_cdc.ordinal is .*-1.*not an integer from 0/],
    ['a fractional ordinal', { key, value: withValue({ _cdc: { v: 1, ordinal: 1.5 } }) }, /_cdc.ordinal is .*1.5/],
    ['an ordinal past 32 bits', { key, value: withValue({ _cdc: { v: 1, ordinal: 2 ** 32 } }) }, /_cdc.ordinal is .*4294967296/],
    ['a trimmed flag that is not true', { key, value: withValue({ _cdc: { v: 1, ordinal: 0, trimmed: 'yes' } }) }, /_cdc.trimmed/],
    ['no operationType', { key, value: withValue({ operationType: undefined }) }, /value has no operationType/],
    ['an operationType that is not a string', { key, value: withValue({ operationType: 3 }) }, /operationType is .*not a string/],
    ['an unknown operationType', { key, value: withValue({ operationType: 'upsert' }) }, /operationType "upsert" is not a known change event type/],
    ['no clusterTime', { key, value: withValue({ clusterTime: undefined }) }, /clusterTime is missing or not a Timestamp/],
    ['a clusterTime that is a date', { key, value: withValue({ clusterTime: { $date: { $numberLong: '0' } } }) }, /clusterTime is missing or not a Timestamp/],
    ['an ns without db', { key, value: withValue({ ns: { coll: 'orders' } }) }, /ns is not a document with a string db/],
    ['no documentKey on an insert', { key, value: withValue({ documentKey: undefined }) }, /insert event has no documentKey/],
    ['no documentKey on a delete', { key, value: withValue({ operationType: 'delete', documentKey: undefined }) }, /delete event has no documentKey/],
    ['a key naming another document', { key: Buffer.from(canonical({ _id: 2 })), value: withValue({}) }, /key does not match the documentKey/],
    ['a fullDocument that is a string', { key, value: withValue({ fullDocument: 'x' }) }, /fullDocument is present but not a document/],
  ];

  it.each(cases)('rejects %s, saying why', (_what, input, reason) => {
    // Act
    const error = rejection(input);

    // Assess
    expect(error.code).toBe('RECORD_MALFORMED');
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(reason);
  });

  it('gives each of the required failures its own reason', () => {
    // Prepare
    const required = ['bytes that are not JSON', 'JSON that is not Extended JSON', 'no operationType', 'an unknown operationType', 'no _cdc', 'a negative ordinal'];

    // Act
    const messages = cases.filter(([what]) => required.includes(what)).map(([, input]) => rejection(input).message);

    // Assess
    expect(messages).toHaveLength(required.length);
    expect(new Set(messages).size).toBe(required.length);
  });

  it('accepts a null fullDocument, which the server sends when an update lookup finds nothing', () => {
    // Act
    const decoded = decodeEvent({ key, value: withValue({ operationType: 'update', fullDocument: null }) });

    // Assess
    expect((decoded.event as unknown as { fullDocument: unknown }).fullDocument).toBeNull();
  });
});

describe('canonical Extended JSON codec', () => {
  const ejsonParse = (text: string) => BSON.EJSON.parse(text, { relaxed: false });
  const outcome = (parse: (text: string) => unknown, text: string) => {
    try {
      const value = parse(text);
      return { value: canonical(value), types: JSON.stringify(value, (_key, inner) => (inner?._bsontype ? `${inner._bsontype}` : inner)) };
    } catch (error) {
      return { error: (error as Error).name };
    }
  };

  it('gives exactly what BSON.EJSON.parse gives, types included, for every type and the edge cases', () => {
    const texts = [
      canonical(everyType),
      canonical({ event: insertEvent(everyType), list: [everyType, [everyType]] }),
      '{"a":5,"b":-0,"c":1.5,"d":12345678901,"e":[1,{"f":2}]}',
      '{"int32Edges":[2147483647,-2147483648,2147483648,-2147483649],"int64Edges":[9223372036854775807,-9223372036854775808,1e19,-1e19],"x":1e-7}',
      '{"$numberInt":"7","extra":1}',
      '{"price":{"$numberInt":"12","currency":"EUR"}}',
      '{"x":{"$numberDouble":"-0.0"},"y":{"$numberDouble":"NaN"},"z":{"$numberDouble":"-Infinity"}}',
      '{"id":{"$oid":"5f1d7f1b9d1e8a3b2c4d5e6f"},"n":{"$numberInt":"not a number"}}',
      '{"__proto__":{"$numberInt":"1"},"constructor":{"a":{"$numberLong":"5"}}}',
      '{"$undefined":true}',
      '{"ref":{"$ref":"c","$id":{"$oid":"5f1d7f1b9d1e8a3b2c4d5e6f"}}}',
    ];
    for (const text of texts) expect(outcome(parseCanonical, text), text).toEqual(outcome(ejsonParse, text));
  });

  it('writes exactly what BSON.EJSON.stringify writes, for every type and the edge cases', () => {
    const values: unknown[] = [
      everyType,
      insertEvent(everyType),
      { list: [everyType, [everyType, null, undefined]], missing: undefined, map: new Map([['k', new Int32(1)]]) },
      [1, -0, 0.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, 1e300, Number.NaN, Number.POSITIVE_INFINITY],
      { date: new Date(Number.NaN), early: new Date(-1), regex: /a.b/im, big: 12n },
      { doubles: [new Double(5), new Double(-0), new Double(1e21), new Double(0.1), new Double(Number.NEGATIVE_INFINITY)] },
      { __proto__key: JSON.parse('{"__proto__":{"a":1}}') as unknown, nullPrototype: Object.assign(Object.create(null) as object, { a: 1 }) },
      'just a string',
      null,
      new Long('-9223372036854775808'),
    ];
    for (const value of values) expect(stringifyCanonical(value)).toBe(canonical(value));
  });

  it('refuses what BSON.EJSON.stringify refuses, with its message', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => stringifyCanonical(cyclic)).toThrow(/Converting circular structure to EJSON/);
  });

  it('refuses what BSON.EJSON.parse refuses', () => {
    for (const text of ['{"id":{"$oid":"zz"}}', '{"a\\u0000b":1}', '{"d":{"$date":{"$numberLong":"x"}}}', '{"t":{"$timestamp":{"t":-1,"i":0}}}', '{not json']) {
      expect(outcome(parseCanonical, text), text).toHaveProperty('error');
      expect(outcome(parseCanonical, text), text).toEqual(outcome(ejsonParse, text));
    }
  });
});

describe('decodeRecord: a key that is the canonical text of its documentKey is not parsed again', () => {
  const decodeBothWays = (key: Buffer, value: Buffer) => {
    const decoded = decodeEvent({ key, value });
    // What the full path gives: the key parsed and written canonically, equal to the documentKey's text.
    expect(decoded.documentKeyJson).toBe(stringifyCanonical(parseCanonical(key.toString('utf8'))));
    return decoded;
  };

  it('decodes the same event from a key written canonically and from one written with spaces', () => {
    const record = encodeChangeEvent(insertEvent({ _id: new Int32(7), v: 'x' }), { ordinal: 0 });
    const spaced = Buffer.from('{ "_id" : { "$numberInt" : "7" } }');

    expect(decodeBothWays(spaced, record.value)).toEqual(decodeBothWays(record.key, record.value));
  });

  it('keys control events by their namespace, as before', () => {
    const drop = encodeChangeEvent(asEvent({ _id: { _data: 'd' }, operationType: 'drop', clusterTime: CLUSTER_TIME, ns: { db: 'shop', coll: 'orders' } }), { ordinal: 0 });

    expect(decodeEvent(drop).documentKeyJson).toBe('{"ns":{"db":"shop","coll":"orders"}}');
  });

  it('gives every kind of _id the documentKey text the parsed key gives', () => {
    const ids: unknown[] = [
      new ObjectId(OBJECT_ID),
      'text',
      '',
      new Int32(-0),
      new Double(-0),
      new Double(Number.NaN),
      new Double(1e300),
      Long.fromString('9223372036854775807'),
      Decimal128.fromString('-0E+3'),
      new Date(-1),
      new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d'),
      new Binary(Buffer.from([1, 2, 3]), 128),
      new BSONRegExp('a+', 'imx'),
      new Timestamp({ t: 0xffff_ffff, i: 1 }),
      new MinKey(),
      new MaxKey(),
      new Code('f()'),
      { b: new Int32(1), a: [new Double(1.5), null, { $notAWrapper: 'x' }] },
      { $oid: OBJECT_ID },
      { __proto__x: 1, '': { '0': 'zero' } },
    ];
    for (const id of ids) {
      const record = encodeChangeEvent(insertEvent({ _id: id }), { ordinal: 0 });
      decodeBothWays(record.key, record.value);
    }
  });
});
