import { describe, expect, it } from 'vitest';
import { bulkItemResults, subBulks } from './bulk-request';

describe('sub-bulks', () => {
  it('splits writes into consecutive runs of the size, the last one shorter', () => {
    expect(subBulks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(subBulks([1, 2, 3, 4], 2)).toEqual([[1, 2], [3, 4]]);
    expect(subBulks([1, 2, 3], 500)).toEqual([[1, 2, 3]]);
    expect(subBulks([], 100)).toEqual([]);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => subBulks([1], 0)).toThrow(RangeError);
    expect(() => subBulks([1], 1.5)).toThrow(RangeError);
    expect(() => subBulks([1], 10, 0)).toThrow(RangeError);
  });

  it('closes a sub-bulk before it would pass the byte limit, and sends an item over the limit alone', () => {
    const size = (item: number) => item;
    expect(subBulks([3, 3, 3, 3], 10, 7, size)).toEqual([[3, 3], [3, 3]]);
    expect(subBulks([2, 20, 2, 2], 10, 7, size)).toEqual([[2], [20], [2, 2]]);
    expect(subBulks([1, 1, 1, 1, 1], 2, 100, size)).toEqual([[1, 1], [1, 1], [1]]);
    expect(subBulks([7, 7], 10, 7, size)).toEqual([[7], [7]]);
  });
});

describe('bulk item results', () => {
  it('gives each write its result by position, whatever the action', () => {
    const error = { type: 'version_conflict_engine_exception', reason: 'newer version held' };
    expect(bulkItemResults({ errors: true, items: [{ index: { status: 201 } }, { delete: { status: 404 } }, { index: { status: 409, error } }] }, 3)).toEqual([
      { status: 201 },
      { status: 404 },
      { status: 409, error },
    ]);
  });

  it('fails when the answer does not hold one item per write, as matching by position would then be wrong', () => {
    expect(() => bulkItemResults({ errors: false, items: [{ index: { status: 201 } }] }, 2)).toThrow(/1 items for 2 writes/);
    expect(() => bulkItemResults({ errors: false }, 1)).toThrow(/0 items for 1 writes/);
  });
});
