import { CdcError } from '../../shared/errors';
import type { SearchClient, SearchResponse } from './search-client';

/** What became of an index the caller wants to exist: found, created now, or unknown for the moment (429/5xx). */
export type IndexState = 'exists' | 'created' | 'retry';

const retriableStatus = (status: number) => status === 429 || status >= 500;
const excerpt = (response: SearchResponse) => `HTTP ${response.status} ${JSON.stringify(response.body ?? '').slice(0, 500)}`;

/**
 * Makes sure `name` exists, creating it with `body` (settings and mappings) when it does not. Only a definite answer
 * counts: 200 means it exists, 404 means create it; 429/5xx say nothing, so the caller must retry before writing,
 * or the first `_bulk` would create the index with dynamic mappings and the body would never be applied. Any other
 * answer (403, 400...) is an error naming the index. Used by the OpenSearch sink and by the local runtime.
 */
export async function ensureIndex(client: SearchClient, name: string, body: string, signal?: AbortSignal): Promise<IndexState> {
  const path = `/${encodeURIComponent(name)}`;
  const head = await client.request('HEAD', path, undefined, signal);
  if (head.status === 200) return 'exists';
  if (retriableStatus(head.status)) return 'retry';
  if (head.status !== 404) {
    throw new CdcError(head.status === 401 || head.status === 403 ? 'PERMISSION_DENIED' : 'STORE_UNAVAILABLE', `could not tell whether index ${name} exists: HEAD answered ${excerpt(head)}`);
  }
  const created = await client.request('PUT', path, body, signal);
  if (created.status === 200) return 'created';
  // Another writer created it between the two requests.
  if (JSON.stringify(created.body ?? '').includes('resource_already_exists_exception')) return 'exists';
  if (retriableStatus(created.status)) return 'retry';
  throw new CdcError(
    created.status === 401 || created.status === 403 ? 'PERMISSION_DENIED' : 'CONFIG_INVALID',
    `could not create index ${name} from SINK_INDEX_BODY: ${excerpt(created)}`,
  );
}
