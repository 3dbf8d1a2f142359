import { describe, expect, it } from 'vitest';
import { readsOnThread } from './read-thread';
import { parseRelayEnv } from './relay-config';
import { chunkBySize, type OutgoingRecord } from './record-producer';

const base = { CONTROL_TABLE: 'control', MONGODB_URI: 'mongodb://localhost', CDC_STREAMS: '[{"id":"orders","database":"shop","collection":"orders"}]' };

describe('relay configuration', () => {
  it('applies the documented defaults', () => {
    const env = parseRelayEnv(base);
    expect(env.CDC_STREAMS[0]).toMatchObject({
      fullDocument: 'updateLookup',
      batch: { maxEvents: 1000, maxBytes: 4 * 1024 * 1024, maxWaitMs: 200 },
      oversize: 'dlq',
      topicPrefix: 'mongo-cdc',
    });
    expect(env.RELAY_READ_THREAD).toBe('auto');
  });

  it('reads on a worker thread when asked to, or by default where there is more than one CPU', () => {
    expect(readsOnThread('auto', 2)).toBe(true);
    expect(readsOnThread('auto', 1)).toBe(false);
    expect(readsOnThread('on', 1)).toBe(true);
    expect(readsOnThread('off', 8)).toBe(false);
  });

  it.each([
    [{ CONTROL_TABLE: undefined }, /environment variable CONTROL_TABLE: is required/],
    [{ CDC_STREAMS: '[{"id":"a"' }, /environment variable CDC_STREAMS: is not valid JSON/],
    [{ CDC_STREAMS: '[{"id":"a","colection":"x"}]' }, /CDC_STREAMS \(at 0\).*colection/],
    [{ CDC_STREAMS: '[{"id":"a","oversize":"drop"}]' }, /CDC_STREAMS \(at 0\.oversize\)/],
    [{ CDC_STREAMS: '[{"id":"a","collection":"x"}]' }, /collection needs database/],
    [{ CDC_STREAMS: '[{"id":"a"},{"id":"a"}]' }, /stream ids must be unique/],
    [{ MONGODB_URI: undefined }, /neither MONGODB_URI nor MONGODB_URI_SECRET is set/],
    [{ RELAY_SAFETY_MARGIN_MS: 'soon' }, /environment variable RELAY_SAFETY_MARGIN_MS/],
    [{ RELAY_READ_THREAD: 'yes' }, /environment variable RELAY_READ_THREAD/],
  ])('fails at start-up naming the setting (%o)', (override, message) => {
    expect(() => parseRelayEnv({ ...base, ...override })).toThrow(message);
  });
});

describe('request chunking', () => {
  const record = (bytes: number): OutgoingRecord => ({ topic: 't', key: Buffer.alloc(10), value: Buffer.alloc(bytes), headers: {} });

  it('keeps each request under the broker limit and the records in order', () => {
    const records = [record(400), record(400), record(400), record(100), record(2_000)];
    const chunks = chunkBySize(records, 1_000);
    expect(chunks.map((chunk) => chunk.length)).toEqual([2, 2, 1]);
    expect(chunks.flat()).toEqual(records);
  });
});
