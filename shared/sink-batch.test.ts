import { describe, expect, it } from 'vitest';
import { lambdaKafkaEventOf, recordsOf, type SourceRecord } from './lambda-kafka-event';
import { changeRecord } from '../test/support/change-record';
import { prepareBatch } from './sink-batch';
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
});
