import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError, classifyMongoError, ERROR_CATALOGUE } from './errors';

describe('errors', () => {
  it.each([
    [new MongoServerError({ code: 286, codeName: 'ChangeStreamHistoryLost', errmsg: 'Resume of change stream was not possible' }), 'history-lost'],
    [new MongoServerError({ code: 260, codeName: 'InvalidResumeToken', errmsg: 'bad token' }), 'history-lost'],
    [new MongoServerError({ code: 280, codeName: 'ChangeStreamFatalError', errmsg: 'cannot resume stream; the resume token was not found' }), 'history-lost'],
    [new MongoServerError({ code: 280, codeName: 'ChangeStreamFatalError', errmsg: 'pipeline is invalid' }), 'fatal'],
    [new MongoNetworkError('socket closed'), 'resumable'],
    [new MongoServerError({ code: 10107, codeName: 'NotWritablePrimary', errmsg: 'not primary' }), 'resumable'],
    [new MongoServerError({ code: 13, codeName: 'Unauthorized', errmsg: 'not authorized' }), 'fatal'],
    [new TypeError('bug'), 'not-mongo'],
  ])('classifies %s as %s', (error, kind) => {
    expect(classifyMongoError(error).kind).toBe(kind);
  });

  it('treats a server-labelled resumable error as resumable', () => {
    const error = new MongoServerError({ code: 1, errmsg: 'x', errorLabels: ['ResumableChangeStreamError'] });
    expect(classifyMongoError(error)).toEqual({ kind: 'resumable', code: 1 });
  });

  it('carries code, retriable flag, name and cause', () => {
    const cause = new Error('root');
    const error = new CdcError('KAFKA_PRODUCE_FAILED', 'no ack', { cause });
    expect(error).toMatchObject({ name: 'CdcError', code: 'KAFKA_PRODUCE_FAILED', retriable: true, cause });
    expect(new CdcError('CONFIG_INVALID', 'x').retriable).toBe(false);
    for (const entry of Object.values(ERROR_CATALOGUE)) expect(entry.recovery.length).toBeGreaterThan(10);
  });
});
