import { afterAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import { uniqueName } from '../support/unique-name';

interface BulkResponse {
  errors: boolean;
  items: Array<Record<string, { status: number; error?: { type: string }; _version?: number }>>;
}

describe('OpenSearch smoke test (real OpenSearch)', () => {
  const base = endpoints.opensearch();
  const index = uniqueName('smoke-os');

  afterAll(async () => {
    await fetch(`${base}/${index}`, { method: 'DELETE' }).catch(() => undefined);
  });

  const bulk = async (lines: object[]): Promise<BulkResponse> => {
    const response = await fetch(`${base}/_bulk?refresh=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`,
    });
    expect(response.status).toBe(200);
    return (await response.json()) as BulkResponse;
  };

  it('_bulk with version_type=external rejects an older version of a document', async () => {
    // Prepare
    await bulk([
      { index: { _index: index, _id: 'doc-1', version: 5, version_type: 'external' } },
      { name: 'newer' },
    ]);

    // Act
    const stale = await bulk([
      { index: { _index: index, _id: 'doc-1', version: 3, version_type: 'external' } },
      { name: 'older' },
    ]);

    // Assess
    expect(stale.errors).toBe(true);
    expect(stale.items[0]?.index?.status).toBe(409);
    expect(stale.items[0]?.index?.error?.type).toBe('version_conflict_engine_exception');
    const stored = (await (await fetch(`${base}/${index}/_doc/doc-1`)).json()) as { _version: number; _source: { name: string } };
    expect(stored._version).toBe(5);
    expect(stored._source.name).toBe('newer');
  });
});
