import { type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { encodeChangeEvent } from '../../shared/record-format';
import { prepareBatch } from '../../shared/sink-batch';
import { sinkTopicNamings } from '../../shared/topic-naming';
import { parseDynamoSinkEnv } from './sink-dynamodb-config';

describe('sink topic naming', () => {
  it('maps a topic back to its collection with the relay\'s own stream settings (non-default prefix, event without ns)', () => {
    const env = parseDynamoSinkEnv({
      REPORTING_TABLE: 'reporting',
      CDC_STREAMS: JSON.stringify([{ id: 'orders', database: 'shop', collection: 'orders', topicPrefix: 'acme' }]),
    });
    const encoded = encodeChangeEvent(
      { _id: { _data: 't1' }, operationType: 'insert', clusterTime: new Timestamp({ t: 1_790_000_000, i: 1 }), documentKey: { _id: new Int32(1) }, fullDocument: { _id: 1 } } as unknown as ChangeStreamDocument,
      { ordinal: 0 },
    );
    const batch = prepareBatch([{ topic: 'acme.shop.orders', partition: 0, offset: 0, ...encoded }], sinkTopicNamings(env));
    expect(batch.malformed).toEqual([]);
    expect(batch.changes.map((change) => change.namespace)).toEqual([{ db: 'shop', coll: 'orders' }]);
  });
});
