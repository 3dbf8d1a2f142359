import { describe, expect, it } from 'vitest';
import { lambdaKafkaEventOf, recordsOf, type SourceRecord } from './lambda-kafka-event';
import { changeRecord } from '../test/support/change-record';
import { DecodingBatch, prepareBatch, type SinkChange } from './sink-batch';
import { prefixNaming } from './topic-naming';

const mongoCdc = [prefixNaming('mongo-cdc')];

const record = changeRecord;

describe('sink batch preparation', () => {
  it('keeps only the newest change per document, whatever the delivery order', () => {
    const batch = prepareBatch(
      [
        record(1, 'update', 5, { fullDocument: { _id: 1, v: 5 } }),
        record(1, 'insert', 1, { fullDocument: { _id: 1, v: 1 } }),
        record(2, 'insert', 2, { fullDocument: { _id: 2, v: 2 } }),
        record(2, 'delete', 3),
      ],
      mongoCdc,
    );
    expect(batch.changes.map((change) => [change.identity, change.kind, change.version.increment])).toEqual([
      ['shop.orders|{"_id":{"$numberInt":"1"}}', 'upsert', 5],
      ['shop.orders|{"_id":{"$numberInt":"2"}}', 'delete', 3],
    ]);
    expect(batch.counts.superseded).toBe(2);
  });

  it('never turns an update without its full document into a write, and counts it', () => {
    const batch = prepareBatch([record(1, 'insert', 1, { fullDocument: { _id: 1 } }), record(1, 'update', 2, { fullDocument: null })], mongoCdc);
    expect(batch.changes).toHaveLength(1);
    expect(batch.changes[0]?.version.increment).toBe(1);
    expect(batch.counts.withoutDocument).toBe(1);
  });

  it('counts tombstones and control events, and returns malformed records with their reason', () => {
    const tombstone: SourceRecord = { ...record(1, 'delete', 1), value: null };
    const drop = record(0, 'drop', 2);
    const broken: SourceRecord = { ...record(1, 'insert', 3), value: Buffer.from('{"operationType":') };
    const batch = prepareBatch([tombstone, drop, broken], mongoCdc);
    expect(batch.counts).toMatchObject({ records: 3, tombstones: 1, controlEvents: 1 });
    expect(batch.malformed).toHaveLength(1);
    expect(batch.malformed[0]?.reason).toMatch(/not JSON/);
  });

  it('decodes a Lambda Kafka event back into the records it was built from, in offset order', () => {
    const records = [record(1, 'insert', 7, { fullDocument: { _id: 1 } }, 11), record(2, 'insert', 8, { fullDocument: { _id: 2 } }, 10)];
    const decoded = recordsOf(lambdaKafkaEventOf(records, 'aws:kafka'));
    expect(decoded.map((each) => each.offset)).toEqual([10, 11]);
    expect(decoded[1]).toEqual(records[0]);
  });

  it('rejects an invocation that is not a Kafka event', () => {
    expect(() => recordsOf({} as never)).toThrow(/not a Lambda Kafka event/);
  });

  it('hands out a batch a slice at a time, holding a change back while a later record has its key, with prepareBatch\'s result', () => {
    const records = [
      record(1, 'insert', 1, { fullDocument: { _id: 1, v: 1 } }),
      record(2, 'insert', 2, { fullDocument: { _id: 2 } }),
      record(3, 'insert', 3, { fullDocument: { _id: 3 } }),
      record(1, 'update', 4, { fullDocument: { _id: 1, v: 4 } }),
      { ...record(4, 'insert', 5), value: Buffer.from('{"operationType":') },
    ];
    const batch = new DecodingBatch(records, mongoCdc);
    const increments = (changes: SinkChange[] | undefined) => changes?.map((change) => change.version.increment);

    expect(increments(batch.next(2))).toEqual([2]);
    expect(increments(batch.next(2))).toEqual([3, 4]);
    expect(increments(batch.next(2))).toEqual([]);
    expect(batch.next(2)).toBeUndefined();
    expect(batch.result()).toEqual(prepareBatch(records, mongoCdc));
  });

  it('tells a change handed out from one a later record superseded under a key written otherwise', () => {
    const later = record(1, 'update', 2, { fullDocument: { _id: 1, v: 2 } });
    const records = [record(1, 'insert', 1, { fullDocument: { _id: 1, v: 1 } }), { ...later, key: Buffer.from('{ "_id" : { "$numberInt" : "1" } }') }];
    const batch = new DecodingBatch(records, mongoCdc);

    const [first] = batch.next(1) ?? [];
    const [second] = batch.next(1) ?? [];

    expect(first?.version.increment).toBe(1);
    expect(second?.version.increment).toBe(2);
    expect(batch.next(1)).toBeUndefined();
    expect([first, second].map((change) => change !== undefined && batch.isNewest(change))).toEqual([false, true]);
    expect(batch.result()).toEqual(prepareBatch(records, mongoCdc));
  });
});
