import { type CommandStartedEvent, type CommandSucceededEvent, type Document, Long, MongoClient, type ResumeToken, Timestamp } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { mongoKindUnderTest } from '../../test/support/mongo-under-test';
import { SwitchableProxy } from '../../test/support/switchable-proxy';
import { uniqueName } from '../../test/support/unique-name';
import { decodeChangeEvent } from './change-event-fields';
import type { ChangeSource } from './change-source';
import { openChangeSource } from './change-source';
import { streamSchema } from './relay-config';

/**
 * The raw change stream (aggregate and getMore issued by the relay itself) against the real MongoDB under test: it
 * resumes once after a resumable error on a getMore (a cut connection, a cursor killed on the server) with nothing
 * lost and nothing repeated, ends at an invalidate, reopens after it with startAfter, and kills its cursor on close.
 * The driver talks to MongoDB through a TCP proxy the test can cut, and reports every command it sends.
 */
describe('raw change stream', () => {
  let proxy: SwitchableProxy;
  let client: MongoClient;
  let other: MongoClient;
  const started: CommandStartedEvent[] = [];
  const succeeded: CommandSucceededEvent[] = [];
  const open: ChangeSource[] = [];

  beforeAll(async () => {
    const target = new URL(endpoints.mongodbUri());
    proxy = await new SwitchableProxy(target.hostname, Number(target.port)).listen();
    proxy.enable();
    const viaProxy = new URL(endpoints.mongodbUri());
    viaProxy.port = String(proxy.port);
    client = new MongoClient(viaProxy.toString(), { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
    client.on('commandStarted', (event) => started.push(event));
    client.on('commandSucceeded', (event) => succeeded.push(event));
    other = new MongoClient(endpoints.mongodbUri());
    await Promise.all([client.connect(), other.connect()]);
    console.log(`[integration] MongoDB under test: ${await mongoKindUnderTest()}`);
  });
  afterEach(async () => {
    for (const source of open.splice(0)) await source.close().catch(() => undefined);
  });
  afterAll(async () => {
    await client?.close();
    await other?.close();
    await proxy?.close();
  });

  /** A collection stream that starts now (the server's time), so it sees exactly what the test writes next. */
  async function streamOn(db: string, options: { maxAwaitTimeMS?: number; maxEvents?: number } = {}) {
    await other.db(db).createCollection('items');
    const now = (await other.db('admin').command({ ping: 1 })).operationTime as Timestamp;
    const stream = streamSchema.parse({ id: db, database: db, collection: 'items', batch: { maxEvents: options.maxEvents ?? 100 } });
    const source = openChangeSource(client, stream, { kind: 'startAtOperationTime', seconds: now.high, increment: now.low + 1 }, options.maxAwaitTimeMS ?? 200);
    open.push(source);
    return source;
  }

  /** Reads until `count` events came (each tryNext is one bounded getMore), decoded. */
  async function read(source: ChangeSource, count: number): Promise<Document[]> {
    const events: Document[] = [];
    while (events.length < count) {
      const event = await source.tryNext();
      if (event) events.push(decodeChangeEvent(event));
    }
    return events;
  }

  const ids = (events: Document[]) => events.map((event) => Number((event.documentKey as { _id: unknown })._id));
  const commands = (name: string) => started.filter((event) => event.commandName === name);
  const cursorIdOf = (db: string): Long => {
    const reply = succeeded.findLast((event) => event.commandName === 'aggregate' && event.databaseName === db)?.reply as Document;
    return Long.fromValue((reply.cursor as Document).id);
  };

  it('sends aggregate and getMore in one session, with the stream options, batch size and await time', async () => {
    const db = uniqueName('raw-session');
    const source = await streamOn(db, { maxAwaitTimeMS: 300, maxEvents: 7 });
    // Opens the cursor (an empty first batch) and waits one getMore.
    expect(await source.tryNext()).toBeNull();
    await other.db(db).collection('items').insertMany([{ _id: 1 }, { _id: 2 }] as never[]);

    expect(ids(await read(source, 2))).toEqual([1, 2]);

    const aggregate = commands('aggregate').findLast((event) => event.databaseName === db)?.command as Document;
    const getMores = commands('getMore').filter((event) => event.databaseName === db);
    expect(aggregate.aggregate).toBe('items');
    expect(aggregate.cursor).toEqual({ batchSize: 7 });
    // The stream's defaults (fullDocument: updateLookup) and where it starts, as watch() would have sent them.
    expect((aggregate.pipeline as Document[])[0]).toEqual({ $changeStream: { fullDocument: 'updateLookup', startAtOperationTime: expect.any(Timestamp) } });
    expect(getMores.length).toBeGreaterThan(0);
    for (const { command } of getMores) {
      expect(command).toMatchObject({ collection: 'items', batchSize: 7, maxTimeMS: 300 });
      expect(command.lsid).toEqual(aggregate.lsid);
    }
    expect(aggregate.lsid).toBeDefined();
  });

  it('resumes after a connection cut during a getMore, with nothing lost and nothing repeated', async () => {
    const db = uniqueName('raw-cut');
    const source = await streamOn(db, { maxAwaitTimeMS: 10_000 });
    const items = other.db(db).collection('items');
    await items.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }] as never[]);
    expect(ids(await read(source, 3))).toEqual([1, 2, 3]);
    const aggregatesBefore = commands('aggregate').filter((event) => event.databaseName === db).length;

    // Cut the connection as soon as the next getMore (waiting up to 10 s for an event) is on the wire.
    const waiting = commands('getMore').length;
    const reading = source.tryNext();
    await until(() => commands('getMore').length > waiting);
    proxy.cut();
    await items.insertMany([{ _id: 4 }, { _id: 5 }] as never[]);
    const first = await reading;
    const events = [...(first ? [decodeChangeEvent(first)] : []), ...(await read(source, first ? 1 : 2))];

    expect(ids(events)).toEqual([4, 5]);
    const reopened = commands('aggregate').filter((event) => event.databaseName === db).slice(aggregatesBefore);
    expect(reopened).toHaveLength(1);
    const stage = changeStreamStage(reopened[0]);
    // The driver's rule: after an event, resume after the token it last handed out.
    expect(stage.resumeAfter).toBeDefined();
    expect(stage.startAtOperationTime).toBeUndefined();
  });

  it('resumes after its cursor was killed on the server (CursorNotFound), with nothing lost and nothing repeated', async () => {
    const db = uniqueName('raw-killed');
    const source = await streamOn(db);
    const items = other.db(db).collection('items');
    await items.insertMany([{ _id: 1 }, { _id: 2 }] as never[]);
    expect(ids(await read(source, 2))).toEqual([1, 2]);
    const tokenBefore = source.resumeToken;

    const killed = await other.db(db).command({ killCursors: 'items', cursors: [cursorIdOf(db)] });
    expect(killed.cursorsKilled).toHaveLength(1);
    await items.insertMany([{ _id: 3 }, { _id: 4 }] as never[]);

    expect(ids(await read(source, 2))).toEqual([3, 4]);
    const stage = changeStreamStage(commands('aggregate').findLast((event) => event.databaseName === db));
    expect(stage.resumeAfter).toEqual(tokenBefore);
  });

  it('ends at an invalidate when the collection is dropped; startAfter its token reads the recreated collection', async () => {
    const db = uniqueName('raw-invalidate');
    const source = await streamOn(db);
    const items = other.db(db).collection('items');
    await items.insertOne({ _id: 1 } as never);
    await items.drop();

    const events = await read(source, 3);
    expect(events.map((event) => event.operationType)).toEqual(['insert', 'drop', 'invalidate']);
    const invalidate = events[2] as Document;
    expect(source.resumeToken).toEqual(invalidate._id);
    // The server closed the cursor with the invalidate: the stream has nothing more to give.
    await expect(source.tryNext()).rejects.toThrow();

    const stream = streamSchema.parse({ id: db, database: db, collection: 'items' });
    const after = openChangeSource(client, stream, { kind: 'startAfter', token: invalidate._id as ResumeToken }, 200);
    open.push(after);
    await items.insertOne({ _id: 2 } as never);
    const next = await read(after, 1);
    expect(next.map((event) => [event.operationType, Number((event.documentKey as { _id: unknown })._id)])).toEqual([['insert', 2]]);
  });

  it('kills its server cursor on close', async () => {
    const db = uniqueName('raw-close');
    const source = await streamOn(db);
    await other.db(db).collection('items').insertOne({ _id: 1 } as never);
    await read(source, 1);
    const id = cursorIdOf(db);

    await source.close();

    const kills = commands('killCursors').filter((event) => event.databaseName === db);
    expect(kills.map((event) => event.command.cursors)).toEqual([[id]]);
    const again = await other.db(db).command({ killCursors: 'items', cursors: [id] });
    expect(again.cursorsKilled).toEqual([]);
  });

  it('closing while a getMore waits kills the cursor, which ends the wait', async () => {
    const db = uniqueName('raw-close-waiting');
    // A getMore that would wait far longer than the test's time limit unless the kill ends it.
    const source = await streamOn(db, { maxAwaitTimeMS: 600_000 });
    const waiting = commands('getMore').length;
    const reading = source.tryNext().then(
      () => 'answered',
      () => 'failed',
    );
    await until(() => commands('getMore').length > waiting);
    const id = cursorIdOf(db);

    await source.close();

    expect(['answered', 'failed']).toContain(await reading);
    expect(commands('killCursors').filter((event) => event.databaseName === db).map((event) => event.command.cursors)).toEqual([[id]]);
    const again = await other.db(db).command({ killCursors: 'items', cursors: [id] });
    expect(again.cursorsKilled).toEqual([]);
  });
});

/** The `$changeStream` stage an aggregate command sent. */
function changeStreamStage(aggregate: CommandStartedEvent | undefined): Document {
  if (!aggregate) throw new Error('no aggregate was sent');
  return ((aggregate.command.pipeline as Document[])[0] as Document).$changeStream as Document;
}

/** Waits for a condition the test cannot await directly (a command on the wire), checking every few milliseconds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
