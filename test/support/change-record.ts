import { type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../../shared/record-format';

/**
 * One relay record of a change to document `id` of shop.orders at cluster time (1,790,000,000, `increment`), on partition
 * 0 of its topic at `offset`; `extra` adds or overrides event fields (fullDocument, updateDescription, ...).
 */
export function changeRecord(id: number, operationType: string, increment: number, extra: Record<string, unknown> = {}, offset = increment): SourceRecord {
  const encoded = encodeChangeEvent(
    {
      _id: { _data: `t${increment}` },
      operationType,
      clusterTime: new Timestamp({ t: 1_790_000_000, i: increment }),
      ns: { db: 'shop', coll: 'orders' },
      documentKey: { _id: new Int32(id) },
      ...extra,
    } as unknown as ChangeStreamDocument,
    { ordinal: 0 },
  );
  return { topic: 'mongo-cdc.shop.orders', partition: 0, offset, ...encoded };
}
