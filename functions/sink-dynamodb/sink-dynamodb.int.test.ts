import { type AttributeValue, DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BSON, type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints, external } from '../../infra/stack/endpoints';
import { stackDown, stackUp } from '../../infra/stack/stack';
import { encodeChangeEvent } from '../../shared/record-format';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { changeRecord } from '../../test/support/change-record';
import { buildChangeHistory, inOrderBatches, shuffledBatches } from '../../test/support/change-history';
import { createReportingTable, dropTable, localDynamo } from '../../test/support/local-clients';
import { SinkHarness } from '../../test/support/sink-harness';
import { uniqueName } from '../../test/support/unique-name';
import { toAttributeMap } from './dynamo-item';
import { DynamoReportingStore, RESERVED_ATTRIBUTES, reportingKey } from './dynamo-reporting-store';

async function scanAll(client: DynamoDBClient, table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) items.set(item._key?.S ?? '', item);
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const withoutMeta = (item: Record<string, AttributeValue>) =>
  Object.fromEntries(Object.entries(item).filter(([name]) => !(RESERVED_ATTRIBUTES as readonly string[]).includes(name)));

function event(id: number, operationType: string, increment: number, document?: Record<string, unknown>): SourceRecord {
  return changeRecord(id, operationType, increment, document ? { fullDocument: { _id: new Int32(id), ...document } } : {});
}

describe('DynamoDB reporting sink (DynamoDB Local, Kafka)', () => {
  const client = localDynamo();
  const harness = new SinkHarness();
  const table = uniqueName('reporting');
  const store = new DynamoReportingStore(client, { table, concurrency: 16, tombstoneTtlSeconds: 86_400 });

  beforeAll(async () => {
    await harness.setUp();
    await createReportingTable(client, table);
  });
  afterAll(async () => {
    await harness.tearDown();
    await dropTable(client, table);
    client.destroy();
  });

  it('equals the final state after 10,000 mixed changes delivered in order and redelivered twice shuffled', async () => {
    // Prepare
    const history = buildChangeHistory({ db: 'shop', coll: 'mixed', topic: 'mongo-cdc.shop.mixed', documents: 300, operations: 10_000, partitions: 3, seed: 7 });

    // Act
    for (const batch of inOrderBatches(history.records, 500)) await harness.run('dynamodb', store, batch);
    for (const seed of [11, 13]) for (const batch of shuffledBatches(history.records, 500, seed)) await harness.run('dynamodb', store, batch);

    // Assess
    const items = await scanAll(client, table);
    let live = 0;
    for (const [documentKeyJson, document] of history.finalState) {
      const item = items.get(`shop.mixed|${documentKeyJson}`);
      expect(item, documentKeyJson).toBeDefined();
      if (document) {
        live++;
        expect(withoutMeta(item!)).toEqual(toAttributeMap(document));
        expect(item!._op?.S).not.toBe('delete');
      } else {
        expect(item!._op?.S).toBe('delete');
        expect(item!._expiresAt?.N).toMatch(/^\d+$/);
      }
    }
    expect(live).toBeGreaterThan(50);
    expect(harness.metrics.total('StaleSkipped')).toBeGreaterThan(0);
    // 30,000 conditional writes: a volume, not a speed target (that is npm run bench); a busy CI machine needs longer.
  }, 600_000);

  it('lets a delete beat a late older update', async () => {
    const insert = event(1, 'insert', 1, { v: 'one' });
    const update = event(1, 'update', 2, { v: 'two' });
    const remove = event(1, 'delete', 3);

    await harness.run('dynamodb', store, [insert]);
    await harness.run('dynamodb', store, [remove]);
    const late = await harness.run('dynamodb', store, [update]);

    expect(late).toMatchObject({ applied: 1, stale: 1 });
    const item = (await scanAll(client, table)).get(`shop.orders|${BSON.EJSON.stringify({ _id: new Int32(1) }, { relaxed: false })}`);
    expect(item?._op?.S).toBe('delete');
    expect(item?.v).toBeUndefined();
  });

  it('stores binary fields byte for byte (base64 on the wire, as the SDK sends them)', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 255, 10, 13]);
    const record = event(5, 'insert', 30, { blob: new BSON.Binary(bytes), nested: { list: [new BSON.Binary(Uint8Array.from([7]))] } });

    const summary = await harness.run('dynamodb', store, [record]);

    expect(summary).toMatchObject({ applied: 1, deadLettered: 0 });
    const item = (await scanAll(client, table)).get(`shop.orders|${BSON.EJSON.stringify({ _id: new Int32(5) }, { relaxed: false })}`);
    expect(item && withoutMeta(item)).toEqual(
      toAttributeMap({ _id: new Int32(5), blob: new BSON.Binary(bytes), nested: { list: [new BSON.Binary(Uint8Array.from([7]))] } }),
    );
    expect(Array.from(item?.blob?.M?.$binary?.B ?? [])).toEqual(Array.from(bytes));
  });

  it('dead-letters malformed records with their bytes and the reason, and applies the rest of the batch', async () => {
    const good = event(2, 'insert', 10, { v: 'good' });
    const garbage: SourceRecord = { topic: 'mongo-cdc.shop.orders', partition: 1, offset: 77, key: Buffer.from('{"_id":1}'), value: Buffer.from('not json'), headers: {} };
    const clash = event(3, 'insert', 11, { _version: 'mine' });

    const summary = await harness.run('dynamodb', store, [garbage, good, clash]);

    expect(summary).toMatchObject({ applied: 1, deadLettered: 2 });
    const dead = await harness.deadLetters();
    const byOffset = new Map(dead.map((record) => [record.headers['cdc-dlq-source-offset'], record]));
    expect(byOffset.get('77')?.value?.toString()).toBe('not json');
    expect(byOffset.get('77')?.headers['cdc-dlq-reason']).toMatch(/not JSON/);
    expect(byOffset.get('77')?.headers['cdc-dlq-source-partition']).toBe('1');
    expect(byOffset.get('11')?.headers['cdc-dlq-reason']).toMatch(/reserves/);
    expect(harness.logger.named('sink.malformed-record').length).toBeGreaterThan(0);
  });

  it('hashes a documentKey over the 2,048-byte key limit, keeps the whole _id, and finds it by reportingKey', async () => {
    // Prepare: a 3,000-character unicode _id, inserted then deleted.
    const longId = `ключ-${'é'.repeat(1_500)}-${'x'.repeat(1_500)}`;
    const keyed = (operationType: string, increment: number, document?: Record<string, unknown>): SourceRecord => {
      const encoded = encodeChangeEvent(
        {
          _id: { _data: `long${increment}` },
          operationType,
          clusterTime: new Timestamp({ t: 1_790_000_100, i: increment }),
          ns: { db: 'shop', coll: 'long' },
          documentKey: { _id: longId },
          ...(document ? { fullDocument: { _id: longId, ...document } } : {}),
        } as unknown as ChangeStreamDocument,
        { ordinal: 0 },
      );
      return { topic: 'mongo-cdc.shop.long', partition: 0, offset: increment, ...encoded };
    };
    const key = reportingKey({ db: 'shop', coll: 'long' }, BSON.EJSON.stringify({ _id: longId }, { relaxed: false }));

    // Act
    const inserted = await harness.run('dynamodb', store, [keyed('insert', 1, { v: 1 })]);
    const afterInsert = await client.send(new GetItemCommand({ TableName: table, Key: { _key: { S: key } }, ConsistentRead: true }));
    const deleted = await harness.run('dynamodb', store, [keyed('delete', 2)]);
    const afterDelete = await client.send(new GetItemCommand({ TableName: table, Key: { _key: { S: key } }, ConsistentRead: true }));

    // Assess
    expect(key).toMatch(/^shop\.long\|sha256:[0-9a-f]{64}$/);
    expect(inserted).toMatchObject({ applied: 1, deadLettered: 0 });
    expect(afterInsert.Item?._id?.S).toBe(longId);
    expect(afterInsert.Item?.v?.N).toBe('1');
    expect(deleted).toMatchObject({ applied: 1, deadLettered: 0 });
    expect(afterDelete.Item?._op?.S).toBe('delete');
    expect(afterDelete.Item?._id?.S).toBe(longId);
  });

  it('stores a document nested 45 levels deep, the part beyond DynamoDB\'s limit as exact Extended JSON', async () => {
    // Prepare
    let deep: Record<string, unknown> = { leaf: new Int32(7), at: new Date(1_700_000_000_000), list: [1, [2, [3]]] };
    for (let level = 0; level < 45; level++) deep = { [`l${level}`]: deep, also: [level] };
    const record = event(9, 'insert', 30, { deep });

    // Act
    const summary = await harness.run('dynamodb', store, [record]);

    // Assess: the item is there; walking it down reaches the lossless form, which parses back to the very subtree.
    expect(summary).toMatchObject({ applied: 1, deadLettered: 0 });
    const item = (await scanAll(client, table)).get('shop.orders|{"_id":{"$numberInt":"9"}}');
    let value: AttributeValue | undefined = item?.deep;
    let original: unknown = deep;
    let levels = 0;
    while (value?.M && !value.M.$ejson) {
      const name = Object.keys(value.M).find((key) => key.startsWith('l')) as string;
      value = value.M[name];
      original = (original as Record<string, unknown>)[name];
      levels++;
    }
    // `deep` is on level 1; 29 plain maps below it, then on level 30 the Extended JSON form (the limit is 31).
    expect(levels).toBe(29);
    const restored = BSON.EJSON.parse(value?.M?.$ejson?.S ?? 'null', { relaxed: false });
    expect(BSON.EJSON.stringify(restored as Record<string, unknown>, { relaxed: false })).toBe(BSON.EJSON.stringify(original as Record<string, unknown>, { relaxed: false }));
  });

  it.skipIf(external.dynamodb())('fails the batch while DynamoDB is down, and the retry succeeds once it is back', async () => {
    const record = event(4, 'insert', 20, { v: 'retry me' });
    const impatient = new DynamoReportingStore(
      new DynamoDBClient({ endpoint: endpoints.dynamodb(), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 2 }),
      { table, concurrency: 4 },
    );
    await stackDown(() => undefined, ['dynamodb']);
    let failure: unknown;
    try {
      await harness.run('dynamodb', impatient, [record]);
    } catch (error) {
      failure = error;
    } finally {
      await stackUp(() => undefined, ['dynamodb']);
    }
    // DynamoDB Local keeps tables in memory: the restarted one needs its table again.
    await createReportingTable(client, table);

    const retried = await harness.run('dynamodb', impatient, [record]);

    expect(failure).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(harness.logger.named('sink.store-failed').length).toBeGreaterThan(0);
    expect(retried).toMatchObject({ applied: 1, deadLettered: 0 });
    expect((await scanAll(client, table)).size).toBe(1);
  }, 120_000);
});
