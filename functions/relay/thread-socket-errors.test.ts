import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { mapChangeStreamError } from '../../shared/mongo-errors';
import { socketErrorAsMongo } from './thread-socket-errors';

describe('socketErrorAsMongo', () => {
  it("names a raw socket error from a thread's MongoDB connection as the driver's network error: MONGO_UNAVAILABLE", () => {
    const raw = Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
    const named = socketErrorAsMongo(raw);
    expect(named).toBeInstanceOf(MongoNetworkError);
    expect((named as Error).cause).toBe(raw);
    expect(mapChangeStreamError(named)).toMatchObject({ code: 'MONGO_UNAVAILABLE' });
  });

  it("leaves the driver's own errors and anything without a socket code as they are", () => {
    const server = new MongoServerError({ code: 286, errmsg: 'history lost' });
    const plain = new Error('boom');
    const otherCode = Object.assign(new Error('x'), { code: 'ERR_SOMETHING' });
    expect(socketErrorAsMongo(server)).toBe(server);
    expect(socketErrorAsMongo(plain)).toBe(plain);
    expect(socketErrorAsMongo(otherCode)).toBe(otherCode);
  });
});
