import { Binary, BSON, Decimal128, Int32, Long, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { advance, chunkFilter, isFinished, keyText, START, TYPE_BRACKETS } from './snapshot-plan';

describe('snapshot chunk plan', () => {
  it('lists every BSON type an _id may hold, once, in MongoDB canonical sort order', () => {
    // Assess: arrays, regular expressions and undefined cannot be an _id; DBPointer cannot be written by a driver.
    expect(TYPE_BRACKETS.map((bracket) => bracket.name)).toEqual([
      'minKey', 'null', 'number', 'string', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp',
      'javascript', 'javascriptWithScope', 'maxKey',
    ]);
  });

  it('starts each bracket with its type and continues with $gt the last key, which keeps to that key\'s type', () => {
    // Act
    const first = chunkFilter(START);
    const strings = chunkFilter({ bracket: 3 });
    const continued = chunkFilter({ bracket: 2, after: keyText(Long.fromString('9007199254740993')) });

    // Assess
    expect(first).toEqual({ _id: { $type: 'minKey' } });
    expect(strings).toEqual({ _id: { $gte: '' } });
    const bound = (continued._id as { $gt: unknown }).$gt;
    // The key keeps its exact BSON type and value (a double would round 2^53+1).
    expect(bound).toBeInstanceOf(Long);
    expect(String(bound)).toBe('9007199254740993');
  });

  it('round-trips every kind of key through the stored cursor exactly', () => {
    for (const id of [new ObjectId(), 'café', new Int32(7), Decimal128.fromString('1.10'), { a: 1, b: [2] }, new Binary(Buffer.alloc(16, 7), 4), new Date(0)]) {
      const filter = chunkFilter(advance({ bracket: 4 }, id, true));
      expect(BSON.EJSON.stringify((filter._id as { $gt: unknown }).$gt, { relaxed: false })).toBe(keyText(id));
    }
  });

  it('ANDs the stream\'s document filter with the key range', () => {
    expect(chunkFilter({ bracket: 2 }, { status: 'open' })).toEqual({ $and: [{ _id: { $type: 'number' } }, { status: 'open' }] });
  });

  it('stays in a bracket after a full chunk and moves to the next after a short one, to the end of the plan', () => {
    // Act
    const full = advance({ bracket: 6 }, new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'), true);
    const short = advance({ bracket: 6, after: '"x"' }, 'y', false);
    const last = advance({ bracket: TYPE_BRACKETS.length - 1 }, undefined, false);

    // Assess
    expect(full).toEqual({ bracket: 6, after: '{"$oid":"5f1d7f1b9d1e8a3b2c4d5e6f"}' });
    expect(short).toEqual({ bracket: 7 });
    expect(isFinished(short)).toBe(false);
    expect(isFinished(last)).toBe(true);
    expect(() => chunkFilter(last)).toThrow(/past the end/);
  });
});
