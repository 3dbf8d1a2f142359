import { type ChangeStreamInsertDocument, MongoClient, type ResumeToken } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { mongoKindUnderTest } from '../support/mongo-under-test';
import { uniqueName } from '../support/unique-name';

interface Item {
  name: string;
}

describe('MongoDB smoke test (change streams)', () => {
  const dbName = uniqueName('smoke');
  const writer = new MongoClient(endpoints.mongodbUri());

  afterAll(async () => {
    await writer.db(dbName).dropDatabase().catch(() => undefined);
    await writer.close();
  });

  it('sees an insert, and a new client resuming from the saved token sees only later events', async () => {
    // Prepare
    console.log(`[integration] MongoDB kind: ${await mongoKindUnderTest()}`);
    const collection = writer.db(dbName).collection<Item>('items');
    await collection.insertOne({ name: 'before-watch' });
    const firstReader = new MongoClient(endpoints.mongodbUri());
    const firstStream = firstReader.db(dbName).collection<Item>('items').watch<Item, ChangeStreamInsertDocument<Item>>();
    await firstStream.tryNext(); // opens the cursor, so the next insert is after the stream's start

    // Act
    await collection.insertOne({ name: 'a' });
    const seen = await firstStream.next();
    const token: ResumeToken = seen._id;
    await firstStream.close();
    await firstReader.close();
    await collection.insertMany([{ name: 'b' }, { name: 'c' }]);

    const secondReader = new MongoClient(endpoints.mongodbUri());
    const resumed = secondReader
      .db(dbName)
      .collection<Item>('items')
      .watch<Item, ChangeStreamInsertDocument<Item>>([], { resumeAfter: token });
    const after = [await resumed.next(), await resumed.next()];
    await resumed.close();
    await secondReader.close();

    // Assess
    expect(seen.operationType).toBe('insert');
    expect(seen.fullDocument.name).toBe('a');
    expect(after.map((event) => event.fullDocument.name)).toEqual(['b', 'c']);
  });
});
