import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { unpackRecords, type PackedRecords } from '../functions/relay/record-transfer';
import { CdcError } from './errors';
import { mapChangeStreamError } from './mongo-errors';
import type { TestRequest } from './worker-thread.test-worker';
import { carryError, reviveError, WorkerClient, workerEntry, WorkerGoneError } from './worker-thread';

const started: WorkerClient<TestRequest, unknown>[] = [];
function startWorker(): WorkerClient<TestRequest, unknown> {
  const entry = workerEntry(__dirname, 'worker-thread.test-worker');
  if (!entry) throw new Error('test worker not found');
  const client = new WorkerClient<TestRequest, unknown>(entry, { name: 'test-worker', workerData: {} });
  started.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((client) => client.terminate()));
});

describe('workerEntry', () => {
  it('finds a source module to load through tsx, and nothing where there is no module', () => {
    expect(workerEntry(__dirname, 'worker-thread.test-worker')?.execArgv).toEqual(['--require', 'tsx/cjs']);
    expect(workerEntry(__dirname, 'no-such-worker')).toBeUndefined();
  });
});

describe('errors carried across a thread boundary', () => {
  it('keep what the change-stream error mapping reads', () => {
    const network = reviveError(carryError(new MongoNetworkError('closed')));
    expect(network).toBeInstanceOf(MongoNetworkError);
    expect((mapChangeStreamError(network) as CdcError).code).toBe('MONGO_UNAVAILABLE');

    // As the driver throws it when no server answers in time (its message, not its topology description, crosses).
    const unreachable = new MongoServerSelectionError('Server selection timed out after 1000 ms', {} as ConstructorParameters<typeof MongoServerSelectionError>[1]);
    const selection = reviveError(carryError(unreachable));
    expect(selection).toBeInstanceOf(MongoServerSelectionError);
    expect(selection.message).toBe('Server selection timed out after 1000 ms');
    expect((mapChangeStreamError(selection) as CdcError).code).toBe('MONGO_UNAVAILABLE');

    const lost = reviveError(carryError(new MongoServerError({ message: 'gone', code: 286, codeName: 'ChangeStreamHistoryLost' })));
    expect((mapChangeStreamError(lost) as CdcError).code).toBe('CHANGE_STREAM_HISTORY_LOST');

    const labelled = reviveError(carryError(new MongoServerError({ message: 'x', code: 9, errorLabels: ['ResumableChangeStreamError'] })));
    expect((labelled as MongoServerError).hasErrorLabel('ResumableChangeStreamError')).toBe(true);
    expect((mapChangeStreamError(labelled) as CdcError).code).toBe('MONGO_UNAVAILABLE');
  });
});

describe('WorkerClient', () => {
  it('answers requests, in order of asking, with structured data', async () => {
    const worker = startWorker();
    const replies = await Promise.all([1, 2, 3].map((value) => worker.request({ kind: 'echo', value: { value, text: 'ü' } })));
    expect(replies).toEqual([1, 2, 3].map((value) => ({ value, text: 'ü' })));
  });

  it('brings thrown errors back so they classify as what was thrown', async () => {
    const worker = startWorker();
    const network = await worker.request({ kind: 'throw', what: 'network' }).catch((error: unknown) => error);
    expect(network).toBeInstanceOf(MongoNetworkError);
    expect((mapChangeStreamError(network) as CdcError).code).toBe('MONGO_UNAVAILABLE');
    const lost = await worker.request({ kind: 'throw', what: 'history-lost' }).catch((error: unknown) => error);
    expect(lost).toMatchObject({ code: 286, codeName: 'ChangeStreamHistoryLost' });
    expect((mapChangeStreamError(lost) as CdcError).code).toBe('CHANGE_STREAM_HISTORY_LOST');
    const labelled = await worker.request({ kind: 'throw', what: 'labelled' }).catch((error: unknown) => error);
    expect((mapChangeStreamError(labelled) as CdcError).code).toBe('MONGO_UNAVAILABLE');
    const cdc = await worker.request({ kind: 'throw', what: 'cdc' }).catch((error: unknown) => error);
    expect(cdc).toBeInstanceOf(CdcError);
    expect(cdc).toMatchObject({ code: 'CONFIG_INVALID', message: 'bad setting', cause: { message: 'underneath' } });
    const type = await worker.request({ kind: 'throw', what: 'type' }).catch((error: unknown) => error);
    expect(type).toMatchObject({ name: 'TypeError', message: 'x is not a function' });
    expect(mapChangeStreamError(type)).toBe(type);
    const bare = await worker.request({ kind: 'throw', what: 'string' }).catch((error: unknown) => error);
    expect((bare as Error).message).toBe('a bare string');
    // Still serving after every failure.
    expect(await worker.request({ kind: 'echo', value: 'alive' })).toBe('alive');
  });

  it('moves a packed batch without copying it record by record', async () => {
    const worker = startWorker();
    const packed = (await worker.request({ kind: 'records', count: 1000 })) as PackedRecords;
    const records = unpackRecords(packed);
    expect(records).toHaveLength(1000);
    expect(records[998]?.key.toString()).toBe('k998');
    expect(records[999]?.value).toBeNull();
  });

  it('rejects waiting requests and refuses new ones once the worker died', async () => {
    const worker = startWorker();
    const hanging = worker.request({ kind: 'hang' }).catch((error: unknown) => error);
    const dying = await worker.request({ kind: 'exit' }).catch((error: unknown) => error);
    expect(dying).toBeInstanceOf(WorkerGoneError);
    expect(await hanging).toBeInstanceOf(WorkerGoneError);
    expect(worker.alive).toBe(false);
    expect(await worker.request({ kind: 'echo', value: 1 }).catch((error: unknown) => error)).toBeInstanceOf(WorkerGoneError);
  });

  it('terminate stops a worker in the middle of a request', async () => {
    const worker = startWorker();
    const hanging = worker.request({ kind: 'hang' }).catch((error: unknown) => error);
    await worker.terminate();
    expect(await hanging).toBeInstanceOf(WorkerGoneError);
    expect(worker.alive).toBe(false);
  });
});
