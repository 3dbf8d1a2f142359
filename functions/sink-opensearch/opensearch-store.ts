import { CdcError } from '../../shared/errors';
import { positionToExternalLong } from '../../shared/stream-position';
import type { RejectedRecord, SinkChange } from '../../shared/sink-batch';
import type { ApplyOutcome, ReportingStore } from '../../shared/sink-runner';
import { ensureIndex } from './index-creation';
import type { SearchClient } from './search-client';
import { indexName, searchDocumentId, toSearchDocument } from './search-document';

export interface OpenSearchStoreOptions {
  /** Index name template with {db} and {coll}; lowercased and cleaned to a valid index name. */
  readonly indexTemplate: string;
  /** Optional settings/mappings applied when the sink first writes to an index that does not exist yet. */
  readonly indexBody?: Record<string, unknown>;
  readonly baseBackoffMs: number;
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string };
}

interface BulkResponseBody {
  errors?: boolean;
  items?: Array<Record<string, BulkItemResult>>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const retriableStatus = (status: number) => status === 429 || status >= 500;

/**
 * `_bulk` with version_type=external_gte and the event's version: the index only moves forward, so redelivery and
 * reordering across retries cannot bring back older state. A version conflict means the index already holds something
 * newer and counts as applied. Items refused with 429/5xx are retried with backoff while time remains; items refused
 * for good go to the dead-letter topic with the reason.
 */
export class OpenSearchStore implements ReportingStore {
  private readonly knownIndices = new Set<string>();
  private readonly indexNames = new Map<string, string>();

  constructor(
    private readonly client: SearchClient,
    private readonly options: OpenSearchStoreOptions,
  ) {}

  async apply(changes: readonly SinkChange[], remainingMs: () => number): Promise<ApplyOutcome> {
    let applied = 0;
    let stale = 0;
    const rejected: RejectedRecord[] = [];
    let pending = [...changes];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) {
        const backoff = Math.min(10_000, this.options.baseBackoffMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        if (remainingMs() - backoff < 2_000) {
          throw new CdcError('STORE_UNAVAILABLE', `OpenSearch kept refusing ${pending.length} writes (429/5xx) and the time is up`);
        }
        await sleep(backoff);
      }
      if (!(await this.ensureIndices(pending, remainingMs))) continue; // an index's existence is not known yet
      const response = await this.bulk(pending, remainingMs);
      if (!response) continue; // the whole request failed in a retriable way
      const retry: SinkChange[] = [];
      pending.forEach((change, index) => {
        const result = Object.values(response.items?.[index] ?? {})[0];
        if (!result) {
          retry.push(change);
        } else if (result.status >= 200 && result.status < 300) {
          applied++;
        } else if (result.status === 409) {
          applied++;
          stale++;
        } else if (result.status === 404 && change.kind === 'delete') {
          applied++; // nothing to delete; the external version is recorded all the same
        } else if (retriableStatus(result.status)) {
          retry.push(change);
        } else {
          rejected.push({
            record: change.record,
            code: 'STORE_REJECTED',
            reason: `OpenSearch refused ${change.identity} (${result.status} ${result.error?.type ?? ''}): ${result.error?.reason ?? 'no reason given'}`,
          });
        }
      });
      pending = retry;
    }
    return { applied, stale, rejected };
  }

  private async bulk(changes: readonly SinkChange[], remainingMs: () => number): Promise<BulkResponseBody | undefined> {
    let body = '';
    for (const change of changes) {
      // Written by hand so the external version goes out as an exact integer (it can exceed 2^53, beyond JSON doubles).
      const meta =
        `{"_index":${JSON.stringify(this.indexFor(change.namespace))},"_id":${JSON.stringify(searchDocumentId(change.documentKeyJson))},` +
        `"version":${positionToExternalLong(change.version)},"version_type":"external_gte"}`;
      body +=
        change.kind === 'delete'
          ? `{"delete":${meta}}\n`
          : `{"index":${meta}}\n${JSON.stringify(toSearchDocument(change.document ?? {}))}\n`;
    }
    let response: Awaited<ReturnType<SearchClient['request']>>;
    try {
      response = await this.client.request('POST', '/_bulk', body, AbortSignal.timeout(Math.max(1_000, remainingMs() - 1_000)));
    } catch (error) {
      if (remainingMs() < 3_000) throw new CdcError('STORE_UNAVAILABLE', `OpenSearch did not answer: ${(error as Error).message}`, { cause: error });
      return undefined;
    }
    if (retriableStatus(response.status)) return undefined;
    if (response.status !== 200) {
      throw new CdcError('STORE_UNAVAILABLE', `OpenSearch answered _bulk with HTTP ${response.status}: ${JSON.stringify(response.body).slice(0, 500)}`);
    }
    return response.body as BulkResponseBody;
  }

  private indexFor(namespace: { db: string; coll: string }): string {
    const key = `${namespace.db}.${namespace.coll}`;
    let name = this.indexNames.get(key);
    if (name === undefined) {
      name = indexName(this.options.indexTemplate, namespace);
      this.indexNames.set(key, name);
    }
    return name;
  }

  /**
   * Creates the indices of these changes with the index body before anything is written to them. False when OpenSearch
   * gave no definite answer (429/5xx): nothing may be written then, or `_bulk` would create the index with dynamic
   * mappings; an index is remembered only once it is known to exist.
   */
  private async ensureIndices(changes: readonly SinkChange[], remainingMs: () => number): Promise<boolean> {
    if (!this.options.indexBody) return true;
    const body = JSON.stringify(this.options.indexBody);
    for (const change of changes) {
      const name = this.indexFor(change.namespace);
      if (this.knownIndices.has(name)) continue;
      const state = await ensureIndex(this.client, name, body, AbortSignal.timeout(Math.max(1_000, remainingMs() - 1_000)));
      if (state === 'retry') return false;
      this.knownIndices.add(name);
    }
    return true;
  }
}
