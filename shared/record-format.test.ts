import { Binary, BSON, BSONRegExp, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, type ChangeStreamDocument } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from './errors';
import { decodeRecord, encodeChangeEvent } from './record-format';

const canonical = (value: unknown) => BSON.EJSON.stringify(value, { relaxed: false });

function insertEvent(fullDocument: Record<string, unknown>, clusterTime = new Timestamp({ t: 1_800_000_000, i: 5 })): ChangeStreamDocument {
  return {
    _id: { _data: '82651234' },
    operationType: 'insert',
    clusterTime,
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: fullDocument._id },
    fullDocument,
  } as unknown as ChangeStreamDocument;
}

const everyType = {
  _id: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'),
  decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
  longMax: Long.MAX_VALUE,
  longMin: Long.MIN_VALUE,
  int32: new Int32(-7),
  negativeZero: new Double(-0),
  nan: new Double(Number.NaN),
  infinity: new Double(Number.NEGATIVE_INFINITY),
  dates: [new Date('1901-01-01T00:00:00.001Z'), new Date('2099-12-31T23:59:59.999Z')],
  binaries: [0, 1, 2, 3, 4, 5, 6, 7, 0x80].map((subtype) => new Binary(Buffer.alloc(16, subtype), subtype)),
  timestamp: new Timestamp({ t: 1, i: 2 }),
  regex: new BSONRegExp('^a.b$', 'imsux'),
  min: new MinKey(),
  max: new MaxKey(),
  code: new Code('function () { return 1; }'),
  nested: [[[{ deep: [new Int32(1), []] }]], {}],
  'a.b': 'dotted',
  $price: 'dollar',
  unicode: 'emoji 🚀 CJK 漢字 combining é',
  empty: '',
  emptyObject: {},
};

describe('record format', () => {
  it('round-trips every BSON type exactly through key and value', () => {
    // Prepare
    const event = insertEvent(everyType);

    // Act
    const record = encodeChangeEvent(event, { ordinal: 3 });
    const decoded = decodeRecord({ key: record.key, value: record.value });

    // Assess
    if (decoded.tombstone) throw new Error('expected an event');
    expect(canonical((decoded.event as { fullDocument?: unknown }).fullDocument)).toBe(canonical(everyType));
    expect(Object.is(((decoded.event as unknown as { fullDocument: { negativeZero: Double } }).fullDocument.negativeZero).valueOf(), -0)).toBe(true);
    expect(decoded.version).toEqual({ seconds: 1_800_000_000, increment: 5, ordinal: 3 });
    expect(decoded.namespace).toEqual({ db: 'shop', coll: 'orders' });
    expect(decoded.documentKeyJson).toBe(canonical({ _id: everyType._id }));
    expect(record.headers).toEqual({
      'cdc-format': '1',
      'cdc-op': 'insert',
      'cdc-ns': 'shop.orders',
      'cdc-cluster-time': '1800000000.5',
      'cdc-version': '6b49d200-00000005-00000003',
    });
  });

  it('gives equal document keys byte-identical record keys', () => {
    const a = encodeChangeEvent(insertEvent({ _id: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'), x: 1 }), { ordinal: 0 });
    const b = encodeChangeEvent(insertEvent({ _id: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'), x: 2 }), { ordinal: 0 });
    expect(a.key.equals(b.key)).toBe(true);
  });

  it('decodes a tombstone as such', () => {
    const { key } = encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 0 });
    expect(decodeRecord({ key, value: null })).toEqual({ tombstone: true, documentKeyJson: canonical({ _id: 1 }) });
  });

  const valid = JSON.parse(encodeChangeEvent(insertEvent({ _id: 1 }), { ordinal: 0 }).value.toString()) as Record<string, unknown>;
  const key = Buffer.from(canonical({ _id: 1 }));
  it.each([
    ['bytes that are not JSON', Buffer.from('{nope'), /value is not JSON/],
    ['JSON that is not Extended JSON', Buffer.from('{"a":{"$numberLong":"x"}}'), /not valid Extended JSON/],
    ['no operationType', Buffer.from(JSON.stringify({ ...valid, operationType: undefined })), /no operationType/],
    ['an unknown operationType', Buffer.from(JSON.stringify({ ...valid, operationType: 'upsert' })), /"upsert" is not a change event type/],
    ['no _cdc', Buffer.from(JSON.stringify({ ...valid, _cdc: undefined })), /no _cdc metadata/],
    ['a negative ordinal', Buffer.from(JSON.stringify({ ...valid, _cdc: { v: 1, ordinal: -1 } })), /_cdc.ordinal .* not a non-negative integer/],
    ['a future format', Buffer.from(JSON.stringify({ ...valid, _cdc: { v: 2, ordinal: 0 } })), /_cdc.v .*understands 1/],
    ['no documentKey on an insert', Buffer.from(JSON.stringify({ ...valid, documentKey: undefined })), /insert event has no documentKey/],
  ])('rejects a value with %s, saying why', (_what, value, reason) => {
    let error: unknown;
    try {
      decodeRecord({ key, value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CdcError);
    expect((error as CdcError).code).toBe('RECORD_MALFORMED');
    expect((error as CdcError).message).toMatch(reason);
  });

  it('refuses to encode an event without a clusterTime', () => {
    const event = { ...insertEvent({ _id: 1 }), clusterTime: undefined } as unknown as ChangeStreamDocument;
    expect(() => encodeChangeEvent(event, { ordinal: 0 })).toThrow(/no clusterTime/);
  });
});
