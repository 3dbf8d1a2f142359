import {
  Int32,
  MongoError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  type TopologyDescription,
} from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError, type CdcErrorCode, ERROR_CATALOGUE, isCdcError } from './errors';
import { classifyMongoError } from './mongo-errors';

const serverError = (fields: { code: number | Int32; codeName?: string; errmsg: string; errorLabels?: string[] }) =>
  new MongoServerError(fields);

describe('CdcError', () => {
  it('carries its code, the catalogue retriable flag, a name and the cause', () => {
    // Prepare
    const cause = new Error('broker down');

    // Act
    const error = new CdcError('KAFKA_PRODUCE_FAILED', 'no ack', { cause });

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'CdcError', code: 'KAFKA_PRODUCE_FAILED', retriable: true, message: 'no ack', cause });
    expect(String(error)).toBe('CdcError: no ack');
  });

  it.each([
    ['CONFIG_INVALID', false],
    ['KAFKA_PRODUCE_FAILED', true],
    ['LEASE_HELD', true],
    ['LEASE_LOST', false],
    ['CHANGE_STREAM_HISTORY_LOST', false],
    ['RECORD_MALFORMED', false],
    ['STORE_UNAVAILABLE', true],
    ['SNAPSHOT_RUNNING', true],
    ['READ_THREAD_FAILED', true],
  ] as const)('marks %s retriable=%s', (code, retriable) => {
    expect(new CdcError(code, 'x').retriable).toBe(retriable);
  });

  it('documents every code with a meaning and a recovery', () => {
    // Prepare
    const codes = Object.keys(ERROR_CATALOGUE) as CdcErrorCode[];

    // Assess
    expect(codes).toHaveLength(18);
    for (const code of codes) {
      expect(ERROR_CATALOGUE[code].meaning.length, code).toBeGreaterThan(20);
      expect(ERROR_CATALOGUE[code].recovery.length, code).toBeGreaterThan(10);
    }
  });

  it('recognises its own errors by code', () => {
    // Prepare
    const error = new CdcError('LEASE_LOST', 'epoch moved on');

    // Assess
    expect(isCdcError(error)).toBe(true);
    expect(isCdcError(error, 'LEASE_LOST')).toBe(true);
    expect(isCdcError(error, 'LEASE_HELD')).toBe(false);
    expect(isCdcError(new Error('x'))).toBe(false);
  });
});

describe('classifyMongoError', () => {
  it.each([
    [
      'ChangeStreamHistoryLost',
      serverError({ code: 286, codeName: 'ChangeStreamHistoryLost', errmsg: 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.' }),
      { kind: 'history-lost', code: 286, codeName: 'ChangeStreamHistoryLost' },
    ],
    [
      'InvalidResumeToken',
      serverError({ code: 260, codeName: 'InvalidResumeToken', errmsg: 'Bad resume token: _data of missing or of wrong type' }),
      { kind: 'history-lost', code: 260, codeName: 'InvalidResumeToken' },
    ],
    [
      'ChangeStreamFatalError about a missing resume token',
      serverError({ code: 280, codeName: 'ChangeStreamFatalError', errmsg: 'cannot resume stream; the resume token was not found. {_data: "8263..."}' }),
      { kind: 'history-lost', code: 280, codeName: 'ChangeStreamFatalError' },
    ],
    [
      'ChangeStreamFatalError about a pipeline that modified _id',
      serverError({
        code: 280,
        codeName: 'ChangeStreamFatalError',
        errmsg: 'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point.',
      }),
      { kind: 'fatal', code: 280, codeName: 'ChangeStreamFatalError' },
    ],
    [
      'a history-lost code carried as Int32 (promoteValues: false)',
      serverError({ code: new Int32(286), codeName: 'ChangeStreamHistoryLost', errmsg: 'no longer in the oplog' }),
      { kind: 'history-lost', code: 286, codeName: 'ChangeStreamHistoryLost' },
    ],
    ['a network error', new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'), { kind: 'resumable' }],
    ['a network timeout', new MongoNetworkTimeoutError('connection 3 to 127.0.0.1:27017 timed out'), { kind: 'resumable' }],
    [
      'no server to select',
      new MongoServerSelectionError('Server selection timed out after 30000 ms', { error: undefined } as unknown as TopologyDescription),
      { kind: 'resumable' },
    ],
    ['an operation timeout', new MongoOperationTimeoutError('Timed out during getMore'), { kind: 'resumable' }],
    [
      'a server error labelled resumable',
      serverError({ code: 1, codeName: 'InternalError', errmsg: 'x', errorLabels: ['ResumableChangeStreamError'] }),
      { kind: 'resumable', code: 1, codeName: 'InternalError' },
    ],
    [
      'an unlabelled code from the driver resumable list',
      serverError({ code: 10107, codeName: 'NotWritablePrimary', errmsg: 'not primary' }),
      { kind: 'resumable', code: 10107, codeName: 'NotWritablePrimary' },
    ],
    [
      'CursorNotFound',
      serverError({ code: 43, codeName: 'CursorNotFound', errmsg: 'cursor id 123 not found' }),
      { kind: 'resumable', code: 43, codeName: 'CursorNotFound' },
    ],
    [
      'a listed code the server labelled non-resumable',
      serverError({ code: 262, codeName: 'ExceededTimeLimit', errmsg: 'x', errorLabels: ['NonResumableChangeStreamError'] }),
      { kind: 'fatal', code: 262, codeName: 'ExceededTimeLimit' },
    ],
    ['an authorisation failure', serverError({ code: 13, codeName: 'Unauthorized', errmsg: 'not authorized on shop' }), { kind: 'fatal', code: 13, codeName: 'Unauthorized' }],
    ['a driver error without a code', new MongoError('something odd'), { kind: 'fatal' }],
    ['a programming error', new TypeError('x is undefined'), { kind: 'not-mongo' }],
    ['a thrown string', 'boom', { kind: 'not-mongo' }],
    ['nothing', undefined, { kind: 'not-mongo' }],
  ])('classifies %s', (_what, error, expected) => {
    // Act
    const classified = classifyMongoError(error);

    // Assess
    expect(classified).toEqual(expected);
  });

  it('treats every code of the driver resumable list as resumable', () => {
    // Prepare
    const codes = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133, 43];

    // Act
    const kinds = codes.map((code) => classifyMongoError(serverError({ code, errmsg: 'x' })).kind);

    // Assess
    expect(new Set(kinds)).toEqual(new Set(['resumable']));
  });
});
