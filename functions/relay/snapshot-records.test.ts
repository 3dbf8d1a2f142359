import { Int32, Long, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { comparePositions, positionAt } from '../../shared/stream-position';
import { decodeRecord, FORMAT_VERSION, HEADERS } from '../../shared/record-format';
import { streamSchema } from './relay-config';
import { recordsForCopy, SNAPSHOT_ORDINAL } from './snapshot-records';
import { Timestamp } from 'mongodb';

const stream = streamSchema.parse({ id: 's', database: 'shop', collection: 'orders' });
const at = { seconds: 1_800_000_000, increment: 5, fromServer: true };

describe('snapshot records', () => {
  it('are insert-shaped change events with version T, the snapshot id in the value and in a header', () => {
    // Prepare
    const document = { _id: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'), qty: new Int32(3), big: Long.fromString('9007199254740993') };

    // Act
    const { records, deadLettered } = recordsForCopy(document, { db: 'shop', coll: 'orders' }, at, 'snap-1', stream, 1_000_000);

    // Assess
    expect(deadLettered).toBeUndefined();
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record.topic).toBe('mongo-cdc.shop.orders');
    expect(record.headers[HEADERS.snapshot]).toBe('snap-1');
    expect(record.headers).toEqual({ [HEADERS.format]: String(FORMAT_VERSION), [HEADERS.snapshot]: 'snap-1' });
    const decoded = decodeRecord({ key: record.key, value: record.value });
    if (decoded.tombstone) throw new Error('not a tombstone');
    expect(decoded.snapshot).toBe('snap-1');
    expect(decoded.event).toMatchObject({ operationType: 'insert', ns: { db: 'shop', coll: 'orders' }, documentKey: { _id: document._id } });
    expect(String((decoded.event as unknown as { fullDocument: { big: Long } }).fullDocument.big)).toBe('9007199254740993');
    expect(decoded.version).toEqual({ seconds: at.seconds, increment: at.increment, ordinal: SNAPSHOT_ORDINAL });
  });

  it('rank above every change at T and below every change after T', () => {
    // Prepare
    const copy = { seconds: at.seconds, increment: at.increment, ordinal: SNAPSHOT_ORDINAL };
    const atT = positionAt(new Timestamp({ t: at.seconds, i: at.increment }), 40);
    const afterT = positionAt(new Timestamp({ t: at.seconds, i: at.increment + 1 }), 0);

    // Assess
    expect(comparePositions(copy, atT)).toBe(1);
    expect(comparePositions(copy, afterT)).toBe(-1);
  });

  it('follow the oversize policy: dead-lettered whole, or trimmed to the key', () => {
    // Prepare
    const big = { _id: 1, blob: 'x'.repeat(5_000) };

    // Act
    const dlq = recordsForCopy(big, { db: 'shop', coll: 'orders' }, at, 'snap-1', stream, 2_000);
    const trim = recordsForCopy(big, { db: 'shop', coll: 'orders' }, at, 'snap-1', streamSchema.parse({ ...stream, oversize: 'trim' }), 2_000);

    // Assess
    expect(dlq.deadLettered?.reason).toMatch(/exceeds the 2000-byte record limit/);
    expect(dlq.records[0]?.topic).toBe('mongo-cdc.dead-letter');
    expect(trim.trimmed).toBe(true);
    const decoded = decodeRecord({ key: trim.records[0]!.key, value: trim.records[0]!.value });
    expect(decoded).toMatchObject({ tombstone: false, trimmed: true, snapshot: 'snap-1' });
  });
});
