import { describe, expect, it } from 'vitest';
import { type RawChunkSource, ChunkPrefetch } from './snapshot-prefetch';
import { isFinished, type KeyCursor, START } from './snapshot-plan';
import type { RawChunk, ReadPoint } from './snapshot-reader';

const namespace = { db: 'shop', coll: 'orders' };

/**
 * A collection of `total` documents in one bracket, read `limit` at a time. Every call is recorded in order, so a test
 * sees which read point each chunk was read at and when the next chunk was asked for.
 */
class FakeSource implements RawChunkSource {
  readonly calls: string[] = [];
  private clock = 0;
  /** How many reads of a chunk (by the `_id` it starts at) fail before one succeeds (a connection cut). */
  readonly failures = new Map<number, number>();

  constructor(private readonly total: number) {}

  async readPoint(): Promise<ReadPoint> {
    this.clock++;
    this.calls.push(`point ${this.clock}`);
    return { seconds: this.clock, increment: 0, fromServer: true };
  }

  async readRaw(_namespace: unknown, cursor: KeyCursor, limit: number, at: ReadPoint): Promise<RawChunk> {
    const from = cursor.after === undefined ? 0 : Number(cursor.after);
    this.calls.push(`raw ${from} at ${at.seconds}`);
    const failures = this.failures.get(from) ?? 0;
    if (failures > 0) {
      this.failures.set(from, failures - 1);
      throw new Error('connection cut');
    }
    const count = Math.max(0, Math.min(limit, this.total - from));
    const documents = Array.from({ length: count }, (_, i) => Buffer.from(String(from + i)));
    const full = count === limit;
    return { documents, next: full ? { bracket: 0, after: String(from + count) } : { bracket: 1 } };
  }
}

describe('ChunkPrefetch', () => {
  it('asks for the next chunk, with its own read point, as soon as a full chunk arrives, and hands it over when asked', async () => {
    const source = new FakeSource(25);
    const prefetch = new ChunkPrefetch(source);
    const first = await prefetch.readFromNow(namespace, START, 10, undefined, undefined);
    expect(first.at.seconds).toBe(1);
    expect(first.raw.documents).toHaveLength(10);
    source.calls.push('asked for the second');
    const second = await prefetch.readFromNow(namespace, first.raw.next, 10, undefined, undefined);
    expect(second.at.seconds).toBe(2);
    expect(second.raw.documents.map(String)).toEqual(['10', '11', '12', '13', '14', '15', '16', '17', '18', '19']);
    const third = await prefetch.readFromNow(namespace, second.raw.next, 10, undefined, undefined);
    expect(third.raw.documents).toHaveLength(5);
    // A short chunk ends its bracket: nothing is prefetched after it.
    expect(isFinished(third.raw.next)).toBe(false);
    // Each chunk's read point just before its documents; the second one's taken before it was asked for.
    expect(source.calls.filter((call) => !call.startsWith('asked'))).toEqual(['point 1', 'raw 0 at 1', 'point 2', 'raw 10 at 2', 'point 3', 'raw 20 at 3']);
    expect(source.calls.indexOf('point 2')).toBeLessThan(source.calls.indexOf('asked for the second'));
  });

  it('reads now, and drops the prefetch, when asked for another chunk than the one prefetched', async () => {
    const source = new FakeSource(100);
    const prefetch = new ChunkPrefetch(source);
    await prefetch.readFromNow(namespace, START, 10, undefined, undefined);
    const elsewhere = await prefetch.readFromNow(namespace, { bracket: 0, after: '50' }, 10, undefined, undefined);
    expect(elsewhere.raw.documents.map(String)[0]).toBe('50');
    expect(elsewhere.at.seconds).toBe(3);
    // A different chunk size or filter is another chunk too.
    const other = await prefetch.readFromNow(namespace, elsewhere.raw.next, 5, undefined, undefined);
    expect(other.raw.documents.map(String)).toEqual(['60', '61', '62', '63', '64']);
    expect(other.at.seconds).toBe(5);
  });

  it('reads a chunk at a given read point itself, never a prefetched one, and prefetches after it', async () => {
    const source = new FakeSource(100);
    const prefetch = new ChunkPrefetch(source);
    await prefetch.readFromNow(namespace, START, 10, undefined, undefined);
    const at = { seconds: 42, increment: 7, fromServer: true };
    const read = await prefetch.readAt(namespace, { bracket: 0, after: '10' }, 10, at, undefined, undefined);
    expect(read.at).toBe(at);
    expect(source.calls.slice(3, 5)).toEqual(['raw 10 at 2', 'raw 10 at 42']);
    const next = await prefetch.readFromNow(namespace, read.raw.next, 10, undefined, undefined);
    expect(next.at.seconds).toBe(3);
  });

  it('reads again a chunk whose prefetch failed, and lets a failure of that read through', async () => {
    const source = new FakeSource(100);
    const prefetch = new ChunkPrefetch(source);
    source.failures.set(0, 1);
    await expect(prefetch.readFromNow(namespace, START, 10, undefined, undefined)).rejects.toThrow('connection cut');
    // The first chunk reads; its prefetch of the second fails, so asking for the second reads it again.
    source.failures.set(10, 1);
    const first = await prefetch.readFromNow(namespace, START, 10, undefined, undefined);
    const second = await prefetch.readFromNow(namespace, first.raw.next, 10, undefined, undefined);
    expect(second.raw.documents.map(String)[0]).toBe('10');
    expect(source.calls.filter((call) => call.startsWith('raw 10'))).toHaveLength(2);
    // When the read again fails too, the call fails.
    source.failures.set(30, 2);
    const third = await prefetch.readFromNow(namespace, second.raw.next, 10, undefined, undefined);
    await expect(prefetch.readFromNow(namespace, third.raw.next, 10, undefined, undefined)).rejects.toThrow('connection cut');
    expect(source.calls.filter((call) => call.startsWith('raw 30'))).toHaveLength(2);
    await prefetch.drop();
  });
});
