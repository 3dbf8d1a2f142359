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
  type ChangeStreamDocument,
  type Document,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { clusterTimeOfEvent, nextPosition, type StreamPosition } from '../../shared/stream-position';
import { RAW_VALUES } from './change-event-fields';
import { ChangeEncoder } from './change-records';
import { recordsForEvent } from './event-records';
import { streamSchema, type StreamConfig } from './relay-config';

/**
 * The change encoder (records written from each event's BSON bytes) against the object path every event took before
 * it (BSON.deserialize as the driver's change stream decoded events, then `recordsForEvent`): the same records, byte
 * for byte, in the same order, with the same positions, sizes and counts, whether an event takes the byte path, the
 * object path, or the oversize and dead-letter policies.
 */

const plainKey = fc.string({ unit: 'binary', maxLength: 8 }).filter((name) => !name.includes('\u0000'));
/** Now and then a key the byte writer refuses (integer-like keys JavaScript reorders, `$` keys): the object path's. */
const key = fc.oneof({ weight: 150, arbitrary: plainKey }, { weight: 1, arbitrary: fc.constantFrom('0', '17', '$set', '$oid') });
const scalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer().map((number) => new Int32(number)),
  fc.double().map((number) => new Double(number)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((number) => Long.fromBigInt(number)),
  fc.date({ noInvalidDate: true }),
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }).map((ms) => new Date(ms)),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => new Binary(bytes)),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => new Binary(bytes, 4)),
  fc.constantFrom('1.5', '-0', 'NaN', '1E+300').map((text) => Decimal128.fromString(text)),
  fc.record({ t: fc.nat(), i: fc.nat() }).map((time) => new Timestamp(time)),
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.constantFrom(new BSONRegExp('a.*b', 'i'), new Code('x => x'), new BSONSymbol('sym'), new MinKey(), new MaxKey()),
);
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value;
const id = fc.oneof(
  fc.uint8Array({ minLength: 12, maxLength: 12 }).map((bytes) => new ObjectId(Buffer.from(bytes))),
  fc.string({ maxLength: 20 }),
  fc.integer().map((number) => new Int32(number)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((number) => Long.fromBigInt(number)),
  fc.double().map((number) => new Double(number)),
  fc.dictionary(key, fc.integer().map((number) => new Int32(number)), { maxKeys: 2 }),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => new Binary(bytes, 4)),
);
const token = fc.uint8Array({ minLength: 10, maxLength: 40 }).map((bytes) => ({ _data: Buffer.from(bytes).toString('hex').toUpperCase() }));
const clusterTime = fc.record({ t: fc.integer({ min: 1_700_000_000, max: 1_700_000_001 }), i: fc.integer({ min: 1, max: 2 }) });
const namespace = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ db: 'shop', coll: 'orders' }) },
  { weight: 2, arbitrary: fc.constant({ db: 'shop', coll: 'returns' }) },
  { weight: 1, arbitrary: fc.constant({ db: 'shop' }) },
  { weight: 1, arbitrary: fc.constant({ db: '' }) },
  { weight: 1, arbitrary: fc.constant({ db: 'shop', coll: 'orders', extra: new Int32(1) }) },
  { weight: 1, arbitrary: fc.constant({ db: new Int32(7), coll: 'orders' }) },
);

/** A change event as MongoDB shapes it (fields in the server's order), of every operation type, with some oddities. */
const event = fc
  .record({
    token,
    operationType: fc.constantFrom('insert', 'update', 'replace', 'delete', 'drop', 'rename', 'dropDatabase', 'invalidate', 'create'),
    clusterTime,
    ns: namespace,
    documentId: id,
    document: fc.dictionary(key.filter((name) => name !== '_id'), value, { maxKeys: 6 }),
    before: fc.option(fc.dictionary(key.filter((name) => name !== '_id'), value, { maxKeys: 3 }), { nil: undefined }),
    updated: fc.dictionary(key, value, { maxKeys: 3 }),
    removed: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    transaction: fc.boolean(),
    oddity: fc.constantFrom('none', 'none', 'none', 'none', 'no clusterTime', 'clusterTime not a Timestamp', '_cdc field', 'documentKey null', 'no ns', 'no _id'),
  })
  .map((shape) => {
    const fields: Document = { _id: shape.token, operationType: shape.operationType };
    if (shape.oddity === 'clusterTime not a Timestamp') fields.clusterTime = new Long(5);
    else if (shape.oddity !== 'no clusterTime') fields.clusterTime = new Timestamp(shape.clusterTime);
    fields.wallTime = new Date(shape.clusterTime.t * 1000);
    const documentEvent = ['insert', 'update', 'replace', 'delete'].includes(shape.operationType);
    if (documentEvent && shape.operationType !== 'delete') fields.fullDocument = { _id: shape.documentId, ...shape.document };
    if (shape.oddity !== 'no ns') fields.ns = shape.ns;
    if (shape.operationType === 'rename') fields.to = { db: 'shop', coll: 'renamed' };
    if (documentEvent) fields.documentKey = shape.oddity === 'documentKey null' ? null : { _id: shape.documentId };
    if (shape.operationType === 'update') {
      fields.updateDescription = { updatedFields: shape.updated, removedFields: shape.removed, truncatedArrays: [] };
    }
    if (shape.before) fields.fullDocumentBeforeChange = { _id: shape.documentId, ...shape.before };
    if (shape.transaction) {
      fields.txnNumber = Long.fromNumber(3);
      fields.lsid = { id: new Binary(Buffer.alloc(16, 7), 4), uid: new Binary(Buffer.alloc(32, 1)) };
    }
    if (shape.oddity === '_cdc field') fields._cdc = { mine: true };
    if (shape.oddity === 'no _id') delete fields._id;
    return Buffer.from(BSON.serialize(fields));
  });

/** The object path: each event deserialized as the driver did, its position and records as the relay made them. */
function objectPath(events: readonly Buffer[], stream: StreamConfig, maxRecordBytes: number, from: StreamPosition | undefined) {
  let position = from;
  return events.map((bytes) => {
    const decoded = BSON.deserialize(bytes, RAW_VALUES) as ChangeStreamDocument;
    const clusterTime = clusterTimeOfEvent(decoded);
    position = clusterTime ? nextPosition(position, clusterTime) : position;
    const encoded = recordsForEvent(decoded, position?.ordinal ?? 0, stream, maxRecordBytes);
    return { ...encoded, position, operationType: typeof decoded.operationType === 'string' ? decoded.operationType : undefined };
  });
}

function bytePath(events: readonly Buffer[], stream: StreamConfig, maxRecordBytes: number, from: StreamPosition | undefined) {
  const encoder = new ChangeEncoder(stream, maxRecordBytes);
  let position = from;
  let written = 0;
  const encoded = events.map((bytes) => {
    const { fromBytes, ...each } = encoder.encode(bytes, position);
    if (fromBytes) written++;
    position = each.position;
    return each;
  });
  return { encoded, written };
}

const streams = {
  collection: streamSchema.parse({ id: 's', database: 'shop', collection: 'orders' }),
  database: streamSchema.parse({ id: 's', database: 'shop', tombstones: true, topics: { 'shop.returns': 'returns-topic' } }),
  deployment: streamSchema.parse({ id: 's', oversize: 'trim' }),
};

describe('ChangeEncoder: records from BSON bytes equal the object path', () => {
  it('writes every event exactly as recordsForEvent does, for collection, database and deployment streams', () => {
    let written = 0;
    let plain = 0;
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 8 }),
        fc.constantFrom(...Object.values(streams)),
        fc.option(fc.record({ seconds: fc.constant(1_700_000_000), increment: fc.constant(1), ordinal: fc.nat(3) }), { nil: undefined }),
        (events, stream, from) => {
          const byBytes = bytePath(events, stream, 1_048_588, from);
          expect(byBytes.encoded).toEqual(objectPath(events, stream, 1_048_588, from));
          written += byBytes.written;
          plain += events.filter((bytes) => {
            const decoded = BSON.deserialize(bytes, RAW_VALUES);
            const ns = decoded.ns as Document | undefined;
            const plainNs =
              ns !== undefined &&
              Object.keys(ns).every((name) => name === 'db' || name === 'coll') &&
              typeof ns.db === 'string' &&
              ns.db !== '' &&
              (ns.coll === undefined || typeof ns.coll === 'string');
            return decoded.documentKey && decoded.clusterTime instanceof Timestamp && decoded._cdc === undefined && plainNs;
          }).length;
        },
      ),
      { numRuns: 300 },
    );
    // The byte path takes most plain document events (the rest have integer-like, `$` or repeated keys the generator
    // happens to make); the object path takes the events with an odd namespace too.
    expect(written).toBeGreaterThan(plain * 0.6);
  }, 180_000);

  it('sends oversize events through the oversize policy, as recordsForEvent does', () => {
    const at = (i: number) => new Timestamp({ t: 1_700_000_000, i });
    const make = (n: number, text: string) =>
      Buffer.from(
        BSON.serialize({
          _id: { _data: `82${n}` },
          operationType: 'insert',
          clusterTime: at(n),
          fullDocument: { _id: new Int32(n), text },
          ns: { db: 'shop', coll: 'orders' },
          documentKey: { _id: new Int32(n) },
        }),
      );
    const events = [make(1, 'small'), make(2, 'x'.repeat(5_000)), make(3, 'small')];
    for (const oversize of ['dlq', 'trim'] as const) {
      const stream = streamSchema.parse({ id: 's', database: 'shop', collection: 'orders', oversize });
      const byBytes = bytePath(events, stream, 2_000, undefined);
      expect(byBytes.encoded).toEqual(objectPath(events, stream, 2_000, undefined));
      expect(byBytes.written).toBe(2);
      expect(byBytes.encoded.filter((each) => (oversize === 'dlq' ? each.deadLettered : each.trimmed))).toHaveLength(1);
    }
  });

  it('continues ordinals across events of one cluster time, and tombstones deletes when configured', () => {
    const time = new Timestamp({ t: 1_700_000_000, i: 9 });
    const events = [1, 2, 3].map((n) =>
      Buffer.from(
        BSON.serialize({ _id: { _data: `82${n}` }, operationType: 'delete', clusterTime: time, ns: { db: 'shop', coll: 'orders' }, documentKey: { _id: new Int32(n) } }),
      ),
    );
    const stream = streamSchema.parse({ id: 's', database: 'shop', collection: 'orders', tombstones: true });
    const byBytes = bytePath(events, stream, 1_048_588, { seconds: 1_700_000_000, increment: 9, ordinal: 4 });
    expect(byBytes.encoded).toEqual(objectPath(events, stream, 1_048_588, { seconds: 1_700_000_000, increment: 9, ordinal: 4 }));
    expect(byBytes.written).toBe(3);
    expect(byBytes.encoded.map((each) => [each.position?.ordinal, each.records.length])).toEqual([
      [5, 2],
      [6, 2],
      [7, 2],
    ]);
  });
});
