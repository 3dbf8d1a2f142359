import {
  Binary,
  BSON,
  type ChangeStream,
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Collection,
  type Document,
  Double,
  Int32,
  Long,
  MongoClient,
  MongoServerError,
  ObjectId,
  type ResumeToken,
  Timestamp,
} from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../test/support/unique-name';
import { endpoints } from './endpoints';

/**
 * MongoDB's documented change stream behaviour, one statement per test, as the product relies on it. Written against
 * any replica set (MONGODB_URI), it is also what keeps the local stand-in (launchers/mongo) faithful: every test here
 * passes against both. Sources: the MongoDB manual's change events reference and the change streams specification.
 */
type Event = ChangeStreamDocument & Document;

const client = new MongoClient(endpoints.mongodbUri());
const open: ChangeStream[] = [];

beforeAll(async () => {
  await client.connect();
});
afterAll(async () => {
  await Promise.all(open.map((stream) => stream.close().catch(() => undefined)));
  await client.close();
});

/** Opens a stream and makes sure the server has fixed its starting point before the test writes anything. */
async function watch(target: 'client' | { db: string; coll?: string }, pipeline: Document[] = [], options: ChangeStreamOptions = {}) {
  const settings = { maxAwaitTimeMS: 200, ...options };
  const stream =
    target === 'client'
      ? client.watch(pipeline, settings)
      : target.coll
        ? client.db(target.db).collection(target.coll).watch(pipeline, settings)
        : client.db(target.db).watch(pipeline, settings);
  open.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

/** Reads until `count` events arrived (or the stream closed), waiting on the server, never on a timer. */
async function take(stream: ChangeStream, count: number, timeoutMs = 20_000): Promise<Event[]> {
  const events: Event[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && !stream.closed && Date.now() < deadline) {
    const event = await stream.tryNext();
    if (event) events.push(event as Event);
  }
  return events;
}

/** Reads whatever arrives until the stream has been quiet for one await period. */
async function drain(stream: ChangeStream): Promise<Event[]> {
  const events: Event[] = [];
  for (let event = await stream.tryNext(); event; event = await stream.tryNext()) events.push(event as Event);
  return events;
}

async function operationTime(): Promise<Timestamp> {
  const reply = await client.db('admin').command({ ping: 1 });
  return reply.operationTime as Timestamp;
}

const token = (event: Event) => (event._id as { _data: string })._data;

describe('change events (MongoDB change events reference)', () => {
  it('an insert carries _id, operationType, clusterTime, wallTime, ns, documentKey {_id} and fullDocument', async () => {
    const db = uniqueName('conf-insert');
    const stream = await watch({ db, coll: 'items' });
    await client.db(db).collection('items').insertOne({ _id: 'a', n: 1 } as Document);

    const [event] = await take(stream, 1);

    expect(typeof token(event!)).toBe('string');
    expect(event).toMatchObject({ operationType: 'insert', ns: { db, coll: 'items' }, documentKey: { _id: 'a' }, fullDocument: { _id: 'a', n: 1 } });
    expect(event!.clusterTime).toBeInstanceOf(Timestamp);
    expect(event!.wallTime).toBeInstanceOf(Date);
  });

  it('an insert the server rejects (duplicate key) produces no event', async () => {
    const db = uniqueName('conf-duplicate');
    const collection = client.db(db).collection('items');
    const stream = await watch({ db, coll: 'items' });
    await collection.insertOne({ _id: 1, v: 'first' } as Document);
    await expect(collection.insertOne({ _id: 1, v: 'second' } as Document)).rejects.toMatchObject({ code: 11000 });
    await expect(collection.insertMany([{ _id: 2 }, { _id: 1 }, { _id: 3 }] as Document[], { ordered: false })).rejects.toMatchObject({ code: 11000 });
    await collection.insertOne({ _id: 'marker' } as Document);

    const events = await take(stream, 4);

    expect(events.map((event) => [event.operationType, event.documentKey])).toEqual([
      ['insert', { _id: 1 }],
      ['insert', { _id: 2 }],
      ['insert', { _id: 3 }],
      ['insert', { _id: 'marker' }],
    ]);
    expect(events[0]!.fullDocument).toEqual({ _id: 1, v: 'first' });
  });

  it('an update carries updateDescription: updatedFields, removedFields, truncatedArrays', async () => {
    const db = uniqueName('conf-update');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1, a: 1, gone: true, list: [1, 2, 3], sub: { x: 1 } } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.updateOne({ _id: 1 } as Document, { $set: { a: 2, 'sub.x': 5, added: 'yes' }, $unset: { gone: '' } });
    await collection.updateOne({ _id: 1 } as Document, { $push: { list: 4 } } as Document);
    await collection.updateOne({ _id: 1 } as Document, { $pop: { list: 1 } });
    await collection.updateOne({ _id: 1 } as Document, { $set: { a: 2 } }); // changes nothing: no event

    const events = await take(stream, 3);
    const marker = await collection.insertOne({ _id: 'marker' } as Document).then(() => take(stream, 1));

    expect(events.map((event) => event.operationType)).toEqual(['update', 'update', 'update']);
    expect(events[0]).toMatchObject({ ns: { db, coll: 'items' }, documentKey: { _id: 1 } });
    expect(events[0]!.fullDocument).toBeUndefined();
    expect(events[0]!.updateDescription).toEqual({
      updatedFields: { a: 2, 'sub.x': 5, added: 'yes' },
      removedFields: ['gone'],
      truncatedArrays: [],
    });
    expect(events[1]!.updateDescription).toMatchObject({ updatedFields: { 'list.3': 4 }, removedFields: [] });
    expect(events[2]!.updateDescription).toMatchObject({ updatedFields: {}, removedFields: [], truncatedArrays: [{ field: 'list', newSize: 3 }] });
    expect(marker[0]?.documentKey).toEqual({ _id: 'marker' });
  });

  it('replaceOne produces a replace event with the new document', async () => {
    const db = uniqueName('conf-replace');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1, old: true } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.replaceOne({ _id: 1 } as Document, { fresh: true });

    const [event] = await take(stream, 1);

    expect(event).toMatchObject({ operationType: 'replace', documentKey: { _id: 1 }, fullDocument: { _id: 1, fresh: true } });
  });

  it('fullDocument: updateLookup returns the current document, and null once it was deleted', async () => {
    const db = uniqueName('conf-lookup');
    const collection = client.db(db).collection('items');
    await collection.insertMany([{ _id: 1, n: 0 }, { _id: 2, n: 0 }] as Document[]);
    const stream = await watch({ db, coll: 'items' }, [], { fullDocument: 'updateLookup' });
    await collection.updateOne({ _id: 1 } as Document, { $set: { n: 1 } });
    await collection.updateOne({ _id: 2 } as Document, { $set: { n: 1 } });
    await collection.deleteOne({ _id: 2 } as Document);

    const events = await take(stream, 3);

    expect(events.map((event) => event.operationType)).toEqual(['update', 'update', 'delete']);
    expect(events[0]!.fullDocument).toEqual({ _id: 1, n: 1 });
    expect(events[1]!.fullDocument).toBeNull();
    expect(events[2]!.fullDocument).toBeUndefined();
  });

  it('findOneAndUpdate, findOneAndReplace and findOneAndDelete emit their events', async () => {
    const db = uniqueName('conf-find-and-modify');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1, n: 0 } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.findOneAndUpdate({ _id: 1 } as Document, { $inc: { n: 1 } });
    await collection.findOneAndReplace({ _id: 1 } as Document, { n: 10 });
    await collection.findOneAndUpdate({ _id: 2 } as Document, { $set: { n: 2 } }, { upsert: true });
    await collection.findOneAndDelete({ _id: 1 } as Document);

    const events = await take(stream, 4);

    expect(events.map((event) => [event.operationType, event.documentKey])).toEqual([
      ['update', { _id: 1 }],
      ['replace', { _id: 1 }],
      ['insert', { _id: 2 }],
      ['delete', { _id: 1 }],
    ]);
    expect(events[0]!.updateDescription?.updatedFields).toEqual({ n: 1 });
  });

  it('every binary subtype is stored and streamed unchanged', async () => {
    const db = uniqueName('conf-binary');
    const collection = client.db(db).collection('items');
    const subtypes = [0, 1, 2, 3, 4, 5, 6, 7, 0x80];
    const binaries = subtypes.map((subtype) => new Binary(Buffer.alloc(16, subtype + 1), subtype));
    const stream = await watch({ db, coll: 'items' });
    await collection.insertOne({ _id: 1, binaries } as Document);

    const stored = await collection.findOne({ _id: 1 } as Document);
    const [event] = await take(stream, 1);

    for (const document of [stored, event?.fullDocument]) {
      const read = (document?.binaries ?? []) as Binary[];
      expect(read.map((binary) => binary.sub_type)).toEqual(subtypes);
      expect(read.map((binary) => Buffer.from(binary.buffer).toString('hex'))).toEqual(binaries.map((binary) => Buffer.from(binary.buffer).toString('hex')));
    }
  });
});

describe('invalidating events', () => {
  it('dropping a watched collection gives drop, then invalidate, and closes the stream', async () => {
    const db = uniqueName('conf-drop');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1 } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.drop();

    const events = await take(stream, 2);

    expect(events.map((event) => event.operationType)).toEqual(['drop', 'invalidate']);
    expect(events[0]).toMatchObject({ ns: { db, coll: 'items' } });
    expect(token(events[1]!) > token(events[0]!)).toBe(true);
    expect(await stream.tryNext()).toBeNull();
    expect(stream.closed).toBe(true);
  });

  it('renaming a watched collection gives rename with `to`, then invalidate', async () => {
    const db = uniqueName('conf-rename');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1 } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.rename('renamed');

    const events = await take(stream, 2);

    expect(events.map((event) => event.operationType)).toEqual(['rename', 'invalidate']);
    expect(events[0]).toMatchObject({ ns: { db, coll: 'items' }, to: { db, coll: 'renamed' } });
  });

  it('dropDatabase gives a database stream drop, dropDatabase, then invalidate', async () => {
    const db = uniqueName('conf-drop-db');
    await client.db(db).collection('items').insertOne({ _id: 1 } as Document);
    const stream = await watch({ db });
    await client.db(db).dropDatabase();

    const events = await take(stream, 3);

    expect(events.map((event) => event.operationType)).toEqual(['drop', 'dropDatabase', 'invalidate']);
    expect(events[1]).toMatchObject({ ns: { db } });
  });

  it('startAfter an invalidate token starts a new stream after it; resumeAfter it is refused', async () => {
    const db = uniqueName('conf-start-after');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1 } as Document);
    const stream = await watch({ db, coll: 'items' });
    await collection.drop();
    const [, invalidate] = await take(stream, 2);
    await collection.insertOne({ _id: 'recreated' } as Document);

    const after = client.db(db).collection('items').watch([], { startAfter: invalidate!._id, maxAwaitTimeMS: 200 });
    open.push(after);
    const events = await take(after, 1);
    const resumed = client.db(db).collection('items').watch([], { resumeAfter: invalidate!._id, maxAwaitTimeMS: 200 });
    open.push(resumed);

    expect(events.map((event) => [event.operationType, event.documentKey])).toEqual([['insert', { _id: 'recreated' }]]);
    await expect(resumed.tryNext()).rejects.toBeInstanceOf(MongoServerError);
  });
});

describe('stream scopes', () => {
  it('db.watch() sees every collection of its database and nothing else, each event naming its ns', async () => {
    const db = uniqueName('conf-db');
    const other = uniqueName('conf-db-other');
    const stream = await watch({ db });
    await client.db(other).collection('x').insertOne({ _id: 'elsewhere' } as Document);
    await client.db(db).collection('a').insertOne({ _id: 'a' } as Document);
    await client.db(db).collection('b').insertOne({ _id: 'b' } as Document);

    const events = await take(stream, 2);
    const more = await drain(stream);

    expect(events.map((event) => [event.ns, event.documentKey])).toEqual([
      [{ db, coll: 'a' }, { _id: 'a' }],
      [{ db, coll: 'b' }, { _id: 'b' }],
    ]);
    expect(more).toEqual([]);
  });

  it('client.watch() sees every database, and a $match on ns filters it on the server', async () => {
    const first = uniqueName('conf-client-a');
    const second = uniqueName('conf-client-b');
    const stream = await watch('client', [{ $match: { 'ns.db': { $in: [first, second] }, 'ns.coll': { $ne: 'skipped' } } }]);
    await client.db(first).collection('x').insertOne({ _id: 1 } as Document);
    await client.db(second).collection('skipped').insertOne({ _id: 2 } as Document);
    await client.db(second).collection('y').insertOne({ _id: 3 } as Document);

    const events = await take(stream, 2);

    expect(events.map((event) => [event.ns, event.documentKey])).toEqual([
      [{ db: first, coll: 'x' }, { _id: 1 }],
      [{ db: second, coll: 'y' }, { _id: 3 }],
    ]);
  });
});

describe('resuming', () => {
  it('resumeAfter an event token delivers exactly the events after it, and tokens sort in commit order', async () => {
    const db = uniqueName('conf-resume');
    const collection = client.db(db).collection('items');
    const stream = await watch({ db, coll: 'items' });
    await collection.insertMany([1, 2, 3, 4].map((n) => ({ _id: n })) as Document[]);
    const events = await take(stream, 4);

    const resumed = collection.watch([], { resumeAfter: events[1]!._id, maxAwaitTimeMS: 200 });
    open.push(resumed);
    const rest = await take(resumed, 2);

    expect(rest.map((event) => event.documentKey)).toEqual([{ _id: 3 }, { _id: 4 }]);
    const tokens = events.map(token);
    expect([...tokens].sort()).toEqual(tokens);
  });

  it('startAtOperationTime delivers the events from that cluster time on', async () => {
    const db = uniqueName('conf-start-at');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 'before' } as Document);
    const start = await operationTime();
    await collection.insertOne({ _id: 'after' } as Document);

    const stream = collection.watch([], { startAtOperationTime: new Timestamp({ t: start.high, i: start.low + 1 }), maxAwaitTimeMS: 200 });
    open.push(stream);
    const events = await take(stream, 1);

    expect(events.map((event) => (event as Document).documentKey)).toEqual([{ _id: 'after' }]);
  });

  it('a resume point older than the oplog fails with ChangeStreamHistoryLost (code 286)', async () => {
    const stream = client.db(uniqueName('conf-lost')).collection('items').watch([], { startAtOperationTime: new Timestamp({ t: 1_483_228_800, i: 1 }) });
    open.push(stream);

    const failure = await stream.tryNext().then(() => undefined, (error: unknown) => error);

    expect(failure).toBeInstanceOf(MongoServerError);
    expect((failure as MongoServerError).code).toBe(286);
  });
});

describe('postBatchResumeToken and waiting', () => {
  it('a quiet stream hands out a resume token that advances with cluster time, with no writes to it', async () => {
    const db = uniqueName('conf-quiet');
    const stream = await watch({ db, coll: 'items' });
    const first = stream.resumeToken as ResumeToken & { _data: string };

    // An idle replica set advances its cluster time every 10 s (periodic no-op writes); allow for that.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (stream.resumeToken as { _data: string })._data === first._data) await stream.tryNext();

    expect(first._data).toEqual(expect.any(String));
    expect((stream.resumeToken as { _data: string })._data > first._data).toBe(true);
  });

  it('the token after a batch of events is at or after the last event', async () => {
    const db = uniqueName('conf-pbrt');
    const stream = await watch({ db, coll: 'items' });
    await client.db(db).collection('items').insertMany([{ _id: 1 }, { _id: 2 }] as Document[]);

    const events = await take(stream, 2);
    await stream.tryNext();

    expect((stream.resumeToken as { _data: string })._data >= token(events[1]!)).toBe(true);
  });

  it('an empty getMore waits for maxAwaitTimeMS, and returns as soon as an event arrives', async () => {
    const db = uniqueName('conf-await');
    const collection = client.db(db).collection('items');
    const stream = await watch({ db, coll: 'items' }, [], { maxAwaitTimeMS: 1_500 });

    const quietStart = Date.now();
    expect(await stream.tryNext()).toBeNull();
    const quietMs = Date.now() - quietStart;
    const eventStart = Date.now();
    const [, event] = await Promise.all([
      new Promise((done) => setImmediate(done)).then(() => collection.insertOne({ _id: 'wake' } as Document)),
      stream.tryNext(),
    ]);
    const eventMs = Date.now() - eventStart;

    expect(quietMs).toBeGreaterThanOrEqual(1_300);
    expect((event as Document | null)?.documentKey).toEqual({ _id: 'wake' });
    expect(eventMs).toBeLessThan(1_300);
  });

  it('killCursors ends a getMore that is waiting on the cursor, with CursorKilled', async () => {
    const db = uniqueName('conf-kill-waiting');
    await client.db(db).createCollection('items');
    const reader = new MongoClient(endpoints.mongodbUri(), { monitorCommands: true });
    let getMoreSent = false;
    reader.on('commandStarted', (event) => {
      if (event.commandName === 'getMore') getMoreSent = true;
    });
    const session = reader.startSession({ causalConsistency: false });
    try {
      const opened = await reader.db(db).command({ aggregate: 'items', pipeline: [{ $changeStream: {} }], cursor: {} }, { session });
      const id = (opened.cursor as Document).id as Long;
      // A getMore that would wait far longer than the test's time limit, unless the kill ends it.
      const waiting = reader.db(db).command({ getMore: id, collection: 'items', maxTimeMS: 600_000 }, { session }).then(
        () => undefined,
        (error: unknown) => error,
      );
      while (!getMoreSent) await new Promise((resolve) => setTimeout(resolve, 5));

      const killed = await client.db(db).command({ killCursors: 'items', cursors: [id] });

      expect(killed.cursorsKilled).toHaveLength(1);
      const failure = await waiting;
      expect(failure).toBeInstanceOf(MongoServerError);
      // CursorNotFound only if the kill overtook the getMore on its way to the server.
      expect(['CursorKilled', 'CursorNotFound']).toContain((failure as MongoServerError).codeName);
    } finally {
      await session.endSession();
      await reader.close();
    }
  });
});

describe('sessions and cluster time', () => {
  it('hello describes a writable replica set member', async () => {
    const hello = await client.db('admin').command({ hello: 1 });

    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.setName).toEqual(expect.any(String));
    expect(hello.logicalSessionTimeoutMinutes).toEqual(expect.any(Number));
  });

  it('replies carry operationTime and $clusterTime; a causally consistent session reads its own writes', async () => {
    const db = uniqueName('conf-session');
    const session = client.startSession({ causalConsistency: true });
    try {
      const before = await operationTime();
      await client.db(db).collection('items').insertOne({ _id: 1 } as Document, { session });
      const afterWrite = session.operationTime;
      const read = await client.db(db).collection('items').findOne({ _id: 1 } as Document, { session });
      const reply = await client.db(db).command({ find: 'items', filter: {}, readConcern: { afterClusterTime: afterWrite } }, { session: undefined }).catch((error: unknown) => error);

      expect(afterWrite).toBeInstanceOf(Timestamp);
      expect(afterWrite!.greaterThan(before)).toBe(true);
      expect(read).toEqual({ _id: 1 });
      expect(session.clusterTime?.clusterTime).toBeInstanceOf(Timestamp);
      expect(reply).not.toBeInstanceOf(Error);
    } finally {
      await session.endSession();
    }
  });
});

describe('pre- and post-images (MongoDB 6.0+)', () => {
  it('with changeStreamPreAndPostImages enabled, fullDocumentBeforeChange and fullDocument whenAvailable carry both images', async () => {
    const db = uniqueName('conf-images');
    await client.db(db).createCollection('items', { changeStreamPreAndPostImages: { enabled: true } });
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1, n: 1 } as Document);
    const stream = await watch({ db, coll: 'items' }, [], { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' });
    await collection.updateOne({ _id: 1 } as Document, { $set: { n: 2 } });
    await collection.deleteOne({ _id: 1 } as Document);

    const events = await take(stream, 2);

    expect(events[0]).toMatchObject({ operationType: 'update', fullDocument: { _id: 1, n: 2 }, fullDocumentBeforeChange: { _id: 1, n: 1 } });
    expect(events[1]).toMatchObject({ operationType: 'delete', fullDocumentBeforeChange: { _id: 1, n: 2 } });
  });

  it('without the option, fullDocumentBeforeChange whenAvailable is null', async () => {
    const db = uniqueName('conf-no-images');
    const collection = client.db(db).collection('items');
    await collection.insertOne({ _id: 1, n: 1 } as Document);
    const stream = await watch({ db, coll: 'items' }, [], { fullDocumentBeforeChange: 'whenAvailable' });
    await collection.updateOne({ _id: 1 } as Document, { $set: { n: 2 } });

    const [event] = await take(stream, 1);

    expect(event).toMatchObject({ operationType: 'update', fullDocumentBeforeChange: null });
  });
});

/**
 * `_id`s of every type a snapshot meets, listed in MongoDB's BSON comparison order (numbers by value whatever their
 * type, then strings, sub-documents field by field, binaries by length then subtype then bytes, ObjectIds). Binaries are
 * kept to 16 bytes or fewer: the stand-in sorts UUIDs after every other binary (see CONTRIBUTING.md).
 */
const ORDERED_IDS: readonly unknown[] = [
  new Int32(-5),
  new Double(2.5),
  Long.fromNumber(3),
  new Int32(7),
  Long.fromString('1000000000000'),
  '',
  'a',
  'b',
  { a: 1 },
  { a: 2 },
  { b: 0 },
  new Binary(Buffer.from([9, 9, 9, 9]), 0),
  new Binary(Buffer.alloc(16, 1), 0),
  new Binary(Buffer.alloc(16, 2), 4),
  new ObjectId('000000000000000000000001'),
  new ObjectId('65a000000000000000000000'),
  new ObjectId('ffffffffffffffffffffffff'),
];
/** One condition per type bracket, in index order: `$gt` on an `_id` matches only `_id`s of its own type. */
const BRACKETS: readonly Document[] = [{ $type: 'number' }, { $gte: '' }, { $gte: {} }, { $type: 'binData' }, { $type: 'objectId' }];
const text = (id: unknown) => BSON.EJSON.stringify({ id }, { relaxed: true });

/** Reads a collection the way an `_id`-ordered chunked copy does, calling `between` after every chunk. */
async function walkInChunks(collection: Collection, chunk: number, between: (copied: number) => Promise<void>): Promise<Document[]> {
  const read: Document[] = [];
  for (const first of BRACKETS) {
    let condition: Document = first;
    for (;;) {
      const documents = await collection.find({ _id: condition } as Document).sort({ _id: 1 }).limit(chunk).toArray();
      read.push(...documents);
      await between(read.length);
      if (documents.length < chunk) break;
      condition = { $gt: documents.at(-1)!._id };
    }
  }
  return read;
}

describe('reads in _id index order (BSON comparison order, query type bracketing)', () => {
  it('a sort on _id orders mixed types as the index does, ascending and descending, with ranges and limits', async () => {
    const collection = client.db(uniqueName('conf-order')).collection('items');
    // Inserted out of order, so storage order says nothing.
    const shuffled = ORDERED_IDS.map((id, index) => ({ id, key: (index * 7) % ORDERED_IDS.length })).sort((a, b) => a.key - b.key);
    await collection.insertMany(shuffled.map(({ id }, n) => ({ _id: id, n }) as Document));

    const ascending = await collection.find({}).sort({ _id: 1 }).toArray();
    const descending = await collection.find({}).sort({ _id: -1 }).toArray();
    const numbersAfter3 = await collection.find({ _id: { $gt: Long.fromNumber(3) } } as Document).sort({ _id: 1 }).limit(2).toArray();
    const stringsBelowB = await collection.find({ _id: { $lt: 'b' } } as Document).sort({ _id: -1 }).limit(5).toArray();
    const objectIdsFrom = await collection.find({ $and: [{ _id: { $gte: ORDERED_IDS[15] } }, { n: { $gte: 0 } }] } as Document).sort({ _id: 1 }).toArray();
    const binaries = await collection.find({ _id: { $type: 'binData' } } as Document).sort({ _id: -1 }).limit(2).toArray();

    expect(ascending.map((document) => text(document._id))).toEqual(ORDERED_IDS.map(text));
    expect(descending.map((document) => text(document._id))).toEqual([...ORDERED_IDS].reverse().map(text));
    expect(numbersAfter3.map((document) => text(document._id))).toEqual([ORDERED_IDS[3], ORDERED_IDS[4]].map(text));
    // Type bracketing: $lt 'b' stops at the strings, it does not run on into the numbers.
    expect(stringsBelowB.map((document) => text(document._id))).toEqual(['a', ''].map(text));
    expect(objectIdsFrom.map((document) => text(document._id))).toEqual([ORDERED_IDS[15], ORDERED_IDS[16]].map(text));
    expect(binaries.map((document) => text(document._id))).toEqual([ORDERED_IDS[13], ORDERED_IDS[12]].map(text));
  });

  it('a chunked _id walk sees what changed between its chunks: keys ahead deleted, updated, replaced or inserted; not keys behind', async () => {
    const collection = client.db(uniqueName('conf-walk')).collection('items');
    // Without the 4-byte binary, the 16-byte one and the UUID share a chunk: on the stand-in `$gt` a generic binary
    // does not reach a UUID (see CONTRIBUTING.md), so a chunk boundary between them would lose the UUID there.
    const ids = ORDERED_IDS.filter((_, index) => index !== 11);
    await collection.insertMany(ids.map((id) => ({ _id: id, version: 1 }) as Document));
    const newObjectId = new ObjectId('65a000000000000000000001');

    const read = await walkInChunks(collection, 2, async (copied) => {
      if (copied === 2) {
        // After -5 and 2.5: 10^12 deleted and 7 updated ahead, 5 inserted ahead, -100 inserted behind.
        await collection.deleteOne({ _id: ORDERED_IDS[4] } as Document);
        await collection.updateOne({ _id: ORDERED_IDS[3] } as Document, { $set: { version: 2 } });
        await collection.insertMany([{ _id: new Int32(5), version: 1 }, { _id: new Int32(-100), version: 1 }] as Document[]);
      }
      if (copied === 10) {
        // After {a: 2}: {b: 0} replaced and the last ObjectId deleted ahead, another ObjectId inserted ahead.
        await collection.replaceOne({ _id: { b: 0 } } as Document, { version: 3 });
        await collection.deleteOne({ _id: ids.at(-1) } as Document);
        await collection.insertOne({ _id: newObjectId, version: 1 } as Document);
      }
    });

    const expected = [...ids.slice(0, 3), new Int32(5), ids[3], ...ids.slice(5, 15), newObjectId];
    expect(read.map((document) => text(document._id))).toEqual(expected.map(text));
    expect(read.map((document) => document.version)).toEqual(expected.map((id) => (id === ids[3] ? 2 : text(id) === text({ b: 0 }) ? 3 : 1)));
  });
});
