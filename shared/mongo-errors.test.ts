import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from './errors';
import { mapChangeStreamError } from './mongo-errors';

describe('mapChangeStreamError', () => {
  it('names every MongoDB error, keeping the driver error as cause', () => {
    const lost = new MongoServerError({ code: 286, codeName: 'ChangeStreamHistoryLost', errmsg: 'gone' });
    const network = new MongoNetworkError('connection reset');
    const denied = new MongoServerError({ code: 13, codeName: 'Unauthorized', errmsg: 'not authorized on shop' });
    const labelled = new MongoServerError({ code: 999, errmsg: 'x', errorLabels: ['ResumableChangeStreamError'] });

    const mapped = [lost, network, denied, labelled].map((error) => mapChangeStreamError(error) as CdcError);

    expect(mapped.map((error) => error.code)).toEqual(['CHANGE_STREAM_HISTORY_LOST', 'MONGO_UNAVAILABLE', 'MONGO_FATAL', 'MONGO_UNAVAILABLE']);
    expect(mapped.map((error) => error.cause)).toEqual([lost, network, denied, labelled]);
    expect(mapped[2]?.message).toMatch(/Unauthorized 13: not authorized on shop/);
    expect(mapped[2]?.retriable).toBe(false);
  });

  it('passes named errors and programming errors through unchanged', () => {
    const named = new CdcError('LEASE_LOST', 'moved on');
    const bug = new TypeError('x is undefined');
    expect(mapChangeStreamError(named)).toBe(named);
    expect(mapChangeStreamError(bug)).toBe(bug);
  });
});
