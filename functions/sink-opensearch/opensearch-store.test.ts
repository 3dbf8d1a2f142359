import { Int32 } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { prepareBatch, type SinkChange } from '../../shared/sink-batch';
import { prefixNaming } from '../../shared/topic-naming';
import { changeRecord } from '../../test/support/change-record';
import { BULK_PATH, type BulkItemResult } from './bulk-request';
import { OpenSearchStore } from './opensearch-store';
import type { SearchClient, SearchResponse } from './search-client';

function record(id: number, operationType: 'insert' | 'delete', increment: number): SourceRecord {
  return changeRecord(id, operationType, increment, operationType === 'insert' ? { fullDocument: { _id: new Int32(id), v: new Int32(increment) } } : {});
}

/** The writes of an ndjson `_bulk` body: each action line's document id (as the mongo _id number) and its action. */
function writesOf(body: string): Array<{ id: number; action: string }> {
  return body
    .split('\n')
    .filter((line) => line.startsWith('{"index"') || line.startsWith('{"delete"'))
    .map((line) => {
      const [action, meta] = Object.entries(JSON.parse(line) as Record<string, { _id: string }>)[0] ?? [];
      return { id: Number((JSON.parse(meta?._id ?? '{}') as { _id: { $numberInt: string } })._id.$numberInt), action: action ?? '' };
    });
}

/**
 * A fake OpenSearch behind the SearchClient interface: indices exist; each `_bulk` is held until the test releases it
 * (so requests in flight together can be counted, and answered out of order), then answered item by item by `answer`.
 */
class FakeSearch implements SearchClient {
  readonly bulks: Array<{ path: string; writes: Array<{ id: number; action: string }>; release: () => void }> = [];
  inFlight = 0;
  mostInFlight = 0;
  private waiting: Array<() => void> = [];

  constructor(private readonly answer: (write: { id: number; action: string }, attempt: number) => BulkItemResult | 'fail-request') {}

  async request(method: string, path: string, body?: string | Buffer): Promise<SearchResponse> {
    if (method !== 'POST') return { status: 200, body: {} };
    const writes = writesOf(body?.toString() ?? '');
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    const attempt = this.bulks.filter((bulk) => bulk.writes.some((write) => writes.some((other) => other.id === write.id))).length;
    await new Promise<void>((release) => {
      this.bulks.push({ path, writes, release });
      for (const wake of this.waiting.splice(0)) wake();
    });
    this.inFlight--;
    const results = writes.map((write) => this.answer(write, attempt));
    if (results.includes('fail-request')) return { status: 503, body: { error: { type: 'unavailable' }, status: 503 } };
    return { status: 200, body: { errors: true, items: results.map((result, index) => ({ [writes[index]?.action ?? 'index']: result })) } };
  }

  /** Resolves once `count` bulk requests have arrived in all. */
  async arrived(count: number): Promise<void> {
    while (this.bulks.length < count) await new Promise<void>((wake) => this.waiting.push(wake));
  }
}

const changesOf = (records: SourceRecord[]) => prepareBatch(records, [prefixNaming('mongo-cdc')]).changes;

describe('OpenSearch store: sub-bulks in flight together', () => {
  it('sends a batch as sub-bulks of the size, at most the concurrency at once, and counts each write by its own result', async () => {
    // Prepare: 7 writes in sub-bulks of 2, 2 at a time. Document 3 is held newer already (409), 4 is a missing delete
    // (404), 6 is refused for good (400), the rest are written.
    const search = new FakeSearch((write) => {
      if (write.id === 3) return { status: 409, error: { type: 'version_conflict_engine_exception' } };
      if (write.id === 4) return { status: 404 };
      if (write.id === 6) return { status: 400, error: { type: 'illegal_state_exception', reason: 'no' } };
      return { status: 201 };
    });
    const store = new OpenSearchStore(search, { indexTemplate: 'idx-{db}-{coll}', baseBackoffMs: 1, bulkDocuments: 2, bulkConcurrency: 2 });
    const records = [record(1, 'insert', 1), record(2, 'insert', 2), record(3, 'insert', 3), record(4, 'delete', 4), record(5, 'insert', 5), record(6, 'insert', 6), record(7, 'insert', 7)];

    // Act: answer the second request before the first, then the rest as they come.
    const outcome = store.apply(changesOf(records), () => 60_000);
    await search.arrived(2);
    search.bulks[1]?.release();
    search.bulks[0]?.release();
    await search.arrived(4);
    search.bulks[2]?.release();
    search.bulks[3]?.release();

    // Assess
    expect(await outcome).toMatchObject({ applied: 6, stale: 1, rejected: [{ record: records[5], code: 'STORE_REJECTED' }] });
    expect(search.bulks.map((bulk) => bulk.writes.map((write) => write.id))).toEqual([[1, 2], [3, 4], [5, 6], [7]]);
    expect(search.bulks.every((bulk) => bulk.path === BULK_PATH)).toBe(true);
    expect(search.mostInFlight).toBe(2);
  });

  it('retries only the writes of a sub-bulk refused as a whole (503), and keeps dead letters in batch order', async () => {
    // Prepare: the request holding document 3 fails on its first attempt; 2 and 5 are refused for good.
    const search = new FakeSearch((write, attempt) => {
      if (write.id === 3 && attempt === 0) return 'fail-request';
      if (write.id === 2 || write.id === 5) return { status: 400, error: { type: 'illegal_state_exception', reason: `no ${write.id}` } };
      return { status: 201 };
    });
    const store = new OpenSearchStore(search, { indexTemplate: 'idx-{db}-{coll}', baseBackoffMs: 1, bulkDocuments: 2, bulkConcurrency: 3 });
    const records = [record(1, 'insert', 1), record(2, 'insert', 2), record(3, 'insert', 3), record(4, 'insert', 4), record(5, 'insert', 5)];

    // Act: answer the three sub-bulks last to first, then the retry.
    const outcome = store.apply(changesOf(records), () => 60_000);
    await search.arrived(3);
    for (const bulk of [...search.bulks].reverse()) bulk.release();
    await search.arrived(4);
    search.bulks[3]?.release();

    // Assess
    const result = await outcome;
    expect(result).toMatchObject({ applied: 3, stale: 0 });
    expect(result.rejected.map((rejected) => rejected.record)).toEqual([records[1], records[4]]);
    expect(search.bulks.map((bulk) => bulk.writes.map((write) => write.id))).toEqual([[1, 2], [3, 4], [5], [3, 4]]);
  });

  it('fails the batch when an answer does not hold one item per write', async () => {
    const search: SearchClient = {
      async request(method) {
        return method === 'POST' ? { status: 200, body: { errors: false, items: [{ index: { status: 201 } }] } } : { status: 200, body: {} };
      },
    };
    const store = new OpenSearchStore(search, { indexTemplate: 'idx-{db}-{coll}', baseBackoffMs: 1 });

    await expect(store.apply(changesOf([record(1, 'insert', 1), record(2, 'insert', 2)]), () => 60_000)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('sends a full sub-bulk while the rest of the batch is still to decode, and counts only the batch\'s newest changes', async () => {
    // Prepare: a feed of 2 changes a slice; change 1 turns out superseded (by a record under a key written otherwise).
    const search = new FakeSearch(() => ({ status: 201 }));
    const store = new OpenSearchStore(search, { indexTemplate: 'idx-{db}-{coll}', baseBackoffMs: 1, bulkDocuments: 2, bulkConcurrency: 2 });
    const changes = changesOf([record(1, 'insert', 1), record(2, 'insert', 2), record(3, 'insert', 3), record(4, 'insert', 4)]);
    const slices = [changes.slice(0, 2), changes.slice(2)];
    const feed = {
      next: () => slices.shift(),
      isNewest: (change: SinkChange) => change !== changes[0],
    };

    // Act
    const outcome = store.applyWhileDecoding(feed, () => 60_000);
    await search.arrived(1);
    const decodedWhenFirstSent = 2 - slices.length;
    search.bulks[0]?.release();
    await search.arrived(2);
    search.bulks[1]?.release();

    // Assess
    expect(decodedWhenFirstSent).toBe(1);
    expect(await outcome).toMatchObject({ applied: 3, stale: 0, rejected: [] });
    expect(search.bulks.map((bulk) => bulk.writes.map((write) => write.id))).toEqual([[1, 2], [3, 4]]);
  });
});
