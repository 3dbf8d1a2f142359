import { describe, expect, it } from 'vitest';
import { DEFAULT_BULK_BYTES, DEFAULT_BULK_CONCURRENCY, DEFAULT_BULK_DOCUMENTS } from './bulk-request';
import { parseOpenSearchSinkEnv } from './sink-opensearch-config';

const base = { OPENSEARCH_URL: 'https://search.example:9200' };

describe('OpenSearch sink settings: sub-bulks', () => {
  it('defaults to sub-bulks of 250 and 5 MiB, 2 in flight', () => {
    const env = parseOpenSearchSinkEnv(base);

    expect(env.SINK_OPENSEARCH_BULK_BYTES).toBe(DEFAULT_BULK_BYTES);
    expect(DEFAULT_BULK_BYTES).toBe(5 * 1024 * 1024);
    expect(env.SINK_OPENSEARCH_BULK_DOCUMENTS).toBe(DEFAULT_BULK_DOCUMENTS);
    expect(env.SINK_OPENSEARCH_BULK_CONCURRENCY).toBe(DEFAULT_BULK_CONCURRENCY);
    expect([DEFAULT_BULK_DOCUMENTS, DEFAULT_BULK_CONCURRENCY]).toEqual([250, 2]);
  });

  it('takes sizes and concurrencies within their ranges', () => {
    const env = parseOpenSearchSinkEnv({ ...base, SINK_OPENSEARCH_BULK_DOCUMENTS: '10000', SINK_OPENSEARCH_BULK_CONCURRENCY: '1' });

    expect([env.SINK_OPENSEARCH_BULK_DOCUMENTS, env.SINK_OPENSEARCH_BULK_CONCURRENCY]).toEqual([10_000, 1]);
  });

  it.each([
    ['SINK_OPENSEARCH_BULK_DOCUMENTS', '0'],
    ['SINK_OPENSEARCH_BULK_BYTES', '1000'],
    ['SINK_OPENSEARCH_BULK_BYTES', '104857601'],
    ['SINK_OPENSEARCH_BULK_DOCUMENTS', '10001'],
    ['SINK_OPENSEARCH_BULK_DOCUMENTS', '2.5'],
    ['SINK_OPENSEARCH_BULK_CONCURRENCY', '0'],
    ['SINK_OPENSEARCH_BULK_CONCURRENCY', '17'],
    ['SINK_OPENSEARCH_BULK_CONCURRENCY', 'two'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => parseOpenSearchSinkEnv({ ...base, [name]: value })).toThrow(new RegExp(`environment variable ${name}: `));
  });
});
