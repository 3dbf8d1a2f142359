import { setMaxListeners } from 'node:events';
import { CdcError } from '../../shared/errors';
import { documentOf, type RejectedRecord, type SinkChange } from '../../shared/sink-batch';
import type { DocumentTextWriter } from '../../shared/record-format';
import type { ApplyOutcome, DecodingFeed, ReportingStore } from '../../shared/sink-runner';
import { BULK_PATH, DEFAULT_BULK_BYTES, DEFAULT_BULK_CONCURRENCY, DEFAULT_BULK_DOCUMENTS, type BulkItemError, type BulkItemResult, type BulkResponseBody, bulkBodyBytes, bulkItemResults } from './bulk-request';
import { ensureIndex } from './index-creation';
import { searchSourceText } from './search-source-text';
import type { SearchClient } from './search-client';
import { indexBodyWith, indexName, moveAllToUnindexed, moveToUnindexed, toSearchDocument } from './search-document';

export interface OpenSearchStoreOptions {
  /** Index name template with {db} and {coll}; lowercased and cleaned to a valid index name. */
  readonly indexTemplate: string;
  /** Optional settings/mappings applied when the sink first writes to an index that does not exist yet. */
  readonly indexBody?: Record<string, unknown>;
  readonly baseBackoffMs: number;
  /** Writes per `_bulk` request: a batch is sent as sub-bulks of this many (default 250). */
  readonly bulkDocuments?: number;
  /** Bytes per `_bulk` request, counted as the records' value sizes (default 5 MiB; a larger change goes alone). */
  readonly bulkBytes?: number;
  /**
   * Sub-bulks in flight at once (default 2), so the sink builds the next request while OpenSearch indexes the last.
   * Safe because every write carries its version: a batch holds one change per document, and even two writes of one
   * document in flight together end with the newer version (external_gte refuses the older).
   */
  readonly bulkConcurrency?: number;
}


/** The whole error chain OpenSearch gave, e.g. "mapper_parsing_exception: failed to parse field [a] ... <- caused by ...". */
export function fullReason(error: BulkItemError | undefined): string {
  const parts: string[] = [];
  for (let cause = error, depth = 0; cause && depth < 10; cause = cause.caused_by, depth++) {
    parts.push(`${cause.type ?? 'error'}: ${cause.reason ?? 'no reason given'}`);
  }
  return parts.length > 0 ? parts.join(' <- caused by ') : 'no reason given';
}

/** Refusals that come from the document's shape meeting the index mapping, which moving fields aside can resolve. */
const MAPPING_ERRORS = /mapper_parsing_exception|document_parsing_exception|illegal_argument_exception|strict_dynamic_mapping_exception|number_format_exception|json_parse_exception|x_content_parse_exception/;
/** At most this many fields are moved aside one by one before the whole document is kept unindexed. */
const MAX_FIELDS_MOVED = 16;

/** Field paths a mapping refusal names, most specific first: "[a.b]" in "failed to parse field [a.b] of type ...". */
function fieldsNamed(reason: string): string[] {
  const names = [...reason.matchAll(/\[([^[\]]+)\]/g)].map((match) => match[1] ?? '');
  return [...new Set(names)].filter((name) => name !== '' && name !== 'null' && !/^\d+$/.test(name));
}

/**
 * Records decoded between looks at whether a sub-bulk is full: small enough that a request leaves soon after its last
 * change is decoded, large enough that the loop costs nothing.
 */
const DECODING_SLICE = 25;

/** What a batch's writes came to so far, across rounds. */
interface Tally {
  applied: number;
  stale: number;
  fieldsNotIndexed: number;
  readonly rejected: RejectedRecord[];
  /** Sources with fields moved aside, by change; the others are the changes' own. */
  readonly documents: Map<SinkChange, Record<string, unknown>>;
  readonly moved: Map<SinkChange, number>;
}

/** Changes decoded already, as a feed that hands them all out at once. */
function allAtOnce(changes: readonly SinkChange[]): DecodingFeed {
  let given = false;
  return {
    next: () => {
      if (given) return undefined;
      given = true;
      return [...changes];
    },
    isNewest: () => true,
  };
}

/** A write block (flood-stage disk watermark, an operator's index.blocks.write) lifts by itself or by an operator. */
const isWriteBlock = (result: BulkItemResult) => result.error?.type === 'cluster_block_exception';

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
  private lastIndex: { readonly db: string; readonly coll: string; readonly name: string } | undefined;
  /** Indices whose existing mapping could not take the sink's required fields; the handler logs them. */
  readonly mappingWarnings: string[] = [];
  /** Changes prepared with this writer carry their `_bulk` source line ready: the document is never built. */
  readonly documentWriter: DocumentTextWriter = searchSourceText;

  constructor(
    private readonly client: SearchClient,
    private readonly options: OpenSearchStoreOptions,
  ) {}

  apply(changes: readonly SinkChange[], remainingMs: () => number): Promise<ApplyOutcome> {
    return this.applyWhileDecoding(allAtOnce(changes), remainingMs);
  }

  /**
   * Sends each sub-bulk as soon as the feed has settled enough changes to fill it, and decodes the next ones while it
   * is in flight: OpenSearch indexes the batch's first writes while the sink decodes the rest, instead of waiting for
   * the whole batch. Then retries what was refused in a way time can cure, as whole rounds.
   */
  async applyWhileDecoding(feed: DecodingFeed, remainingMs: () => number): Promise<ApplyOutcome> {
    const tally: Tally = { applied: 0, stale: 0, fieldsNotIndexed: 0, rejected: [], documents: new Map(), moved: new Map() };
    let round = await this.sendRound(feed, tally, remainingMs);
    // Backoff only after refusals that time can cure (429/5xx, write blocks); fields moved aside are retried at once.
    for (let backoffs = 0; round.retry.length > 0; ) {
      if (round.mustWait) {
        const backoff = Math.min(10_000, this.options.baseBackoffMs * 2 ** backoffs++) * (0.5 + Math.random() / 2);
        if (remainingMs() - backoff < 2_000) {
          throw new CdcError('STORE_UNAVAILABLE', `OpenSearch kept refusing ${round.retry.length} writes (429/5xx) and the time is up`);
        }
        await sleep(backoff);
      }
      round = await this.sendRound(allAtOnce(round.retry), tally, remainingMs);
    }
    return { applied: tally.applied, stale: tally.stale, rejected: tally.rejected, fieldsNotIndexed: tally.fieldsNotIndexed };
  }

  /**
   * One round: the feed's changes as sub-bulks, `bulkConcurrency` in flight at once, each request's body built only
   * when it is its turn (so that work, and decoding, overlap OpenSearch indexing the requests before it). Then each
   * write's result, in the order of the feed whatever order the answers came in, so retries and dead letters stay in
   * record order. A definite failure is thrown once the requests in flight end.
   */
  private async sendRound(feed: DecodingFeed, tally: Tally, remainingMs: () => number): Promise<{ retry: SinkChange[]; mustWait: boolean }> {
    const size = this.options.bulkDocuments ?? DEFAULT_BULK_DOCUMENTS;
    const maxBytes = this.options.bulkBytes ?? DEFAULT_BULK_BYTES;
    const concurrency = this.options.bulkConcurrency ?? DEFAULT_BULK_CONCURRENCY;
    // One deadline for all of them: a second before the invocation's end, as each request had before.
    const signal = AbortSignal.timeout(Math.max(1_000, remainingMs() - 1_000));
    setMaxListeners(concurrency + 10, signal);
    const parts: SinkChange[][] = [];
    const results: Array<Array<BulkItemResult | undefined> | undefined> = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;

    const send = async (part: SinkChange[]) => {
      const index = parts.push(part) - 1;
      results.push(undefined);
      // Known indices are checked without a request; an index whose existence is not known yet is not written to.
      if (!(await this.ensureIndices(part, remainingMs))) return;
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) return;
      const request = async () => {
        try {
          const response = await this.bulk(part, tally.documents, remainingMs, signal);
          results[index] = response && bulkItemResults(response, part.length);
        } catch (error) {
          failure ??= { error };
        }
      };
      const tracked: Promise<void> = request().finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      // Lets the request reach the socket before the next slice is decoded (the write waits for the event loop).
      await new Promise<void>((resolve) => setImmediate(resolve));
    };

    try {
      let part: SinkChange[] = [];
      let bytes = 0;
      for (let settled = feed.next(DECODING_SLICE); settled !== undefined && !failure; settled = feed.next(DECODING_SLICE)) {
        for (const change of settled) {
          const changeBytes = change.record.value?.length ?? 0;
          // As subBulks cuts them: at most `size` writes and `maxBytes` bytes, a larger change alone; a full part
          // leaves at once rather than when the next change comes.
          if (part.length > 0 && bytes + changeBytes > maxBytes) {
            await send(part);
            part = [];
            bytes = 0;
          }
          part.push(change);
          bytes += changeBytes;
          if (part.length === size) {
            await send(part);
            part = [];
            bytes = 0;
          }
        }
      }
      if (part.length > 0 && !failure) await send(part);
    } catch (error) {
      // Decoding or an index's creation failed definitely: what is in flight ends first, as for a failed request.
      failure ??= { error };
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;

    const retry: SinkChange[] = [];
    let mustWait = false;
    parts.forEach((part, partIndex) => {
      const partResults = results[partIndex];
      part.forEach((change, index) => {
        // Superseded within the batch by a record decoded after this was sent: the newer one is what counts.
        if (!feed.isNewest(change)) return;
        const result = partResults?.[index];
        if (!partResults) {
          retry.push(change); // the whole request failed in a retriable way, or its index is not known to exist yet
          mustWait = true;
        } else if (!result) {
          retry.push(change);
        } else if (result.status >= 200 && result.status < 300) {
          tally.applied++;
        } else if (result.status === 409) {
          tally.applied++;
          tally.stale++;
        } else if (result.status === 404 && change.kind === 'delete') {
          tally.applied++; // nothing to delete; the external version is recorded all the same
        } else if (retriableStatus(result.status) || isWriteBlock(result)) {
          retry.push(change);
          mustWait = true;
        } else if (change.kind === 'upsert' && result.status === 400 && MAPPING_ERRORS.test(JSON.stringify(result.error ?? {}))) {
          const fields = this.moveAside(change, tally.documents, tally.moved, fullReason(result.error));
          if (fields > 0) {
            tally.fieldsNotIndexed += fields;
            retry.push(change);
          } else {
            tally.rejected.push({ record: change.record, code: 'STORE_REJECTED', reason: `OpenSearch refused ${change.identity} (${result.status}): ${fullReason(result.error)}` });
          }
        } else {
          tally.rejected.push({
            record: change.record,
            code: 'STORE_REJECTED',
            reason: `OpenSearch refused ${change.identity} (${result.status}): ${fullReason(result.error)}`,
          });
        }
      });
    });
    return { retry, mustWait };
  }

  /**
   * Moves the field a mapping refusal names into the unindexed part of the document, or, when it names none or too
   * many were moved already, every field but `mongo_id`. Returns how many fields moved (0: nothing left to move).
   */
  private moveAside(change: SinkChange, documents: Map<SinkChange, Record<string, unknown>>, moved: Map<SinkChange, number>, reason: string): number {
    const source = documents.get(change) ?? toSearchDocument(documentOf(change) ?? {});
    documents.set(change, source);
    const count = moved.get(change) ?? 0;
    if (count < MAX_FIELDS_MOVED) {
      // Only the first name that resolves: the others in a reason are often types ("[long]") or the same field again.
      const field = fieldsNamed(reason).find((path) => moveToUnindexed(source, path));
      if (field !== undefined) {
        moved.set(change, count + 1);
        return 1;
      }
    }
    if (count >= Number.MAX_SAFE_INTEGER) return 0;
    const all = moveAllToUnindexed(source);
    // Everything is aside now: a further refusal cannot be helped by moving fields.
    moved.set(change, Number.MAX_SAFE_INTEGER);
    return all;
  }

  private async bulk(
    changes: readonly SinkChange[],
    documents: ReadonlyMap<SinkChange, Record<string, unknown>>,
    remainingMs: () => number,
    signal: AbortSignal,
  ): Promise<BulkResponseBody | undefined> {
    // The records' sizes (as subBulks counts them) exceed the lines written from them: room enough, nearly always.
    let sizeHint = 0;
    for (const change of changes) sizeHint += (change.record.value?.length ?? 0) + 160;
    const body = bulkBodyBytes(changes, (change) => this.indexFor(change.namespace), documents, sizeHint);
    let response: Awaited<ReturnType<SearchClient['request']>>;
    try {
      response = await this.client.request('POST', BULK_PATH, body, signal);
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
    // A batch's changes nearly all name one collection: the last answer is checked before a key is built.
    const last = this.lastIndex;
    if (last !== undefined && last.db === namespace.db && last.coll === namespace.coll) return last.name;
    const name = this.indexNameOf(namespace);
    this.lastIndex = { db: namespace.db, coll: namespace.coll, name };
    return name;
  }

  private indexNameOf(namespace: { db: string; coll: string }): string {
    const key = `${namespace.db}.${namespace.coll}`;
    let name = this.indexNames.get(key);
    if (name === undefined) {
      name = indexName(this.options.indexTemplate, namespace);
      this.indexNames.set(key, name);
    }
    return name;
  }

  /**
   * Creates the indices of these changes with the index body (plus the mappings the sink relies on) before anything is
   * written to them, and adds those mappings to indices made before. False when OpenSearch gave no definite answer
   * (429/5xx): nothing may be written then, or `_bulk` would create the index with dynamic mappings; an index is
   * remembered only once it is known to exist.
   */
  private async ensureIndices(changes: readonly SinkChange[], remainingMs: () => number): Promise<boolean> {
    const body = JSON.stringify(indexBodyWith(this.options.indexBody));
    for (const change of changes) {
      const name = this.indexFor(change.namespace);
      if (this.knownIndices.has(name)) continue;
      try {
        if (!(await this.ensureOneIndex(name, body, remainingMs))) return false;
      } catch (error) {
        if (error instanceof CdcError) throw error;
        // OpenSearch did not answer at all: like a 5xx, retried while time remains, as `_bulk` is.
        if (remainingMs() < 3_000) throw new CdcError('STORE_UNAVAILABLE', `OpenSearch did not answer: ${(error as Error).message}`, { cause: error });
        return false;
      }
      this.knownIndices.add(name);
    }
    return true;
  }

  /** One index: created with the body, or given the sink's mappings when it existed already. False for 429/5xx. */
  private async ensureOneIndex(name: string, body: string, remainingMs: () => number): Promise<boolean> {
    const signal = AbortSignal.timeout(Math.max(1_000, remainingMs() - 1_000));
    const state = await ensureIndex(this.client, name, body, signal);
    if (state === 'retry') return false;
    if (state === 'exists') {
      // An index made before (or by someone else): add the mappings the sink relies on; a clash is reported, not fatal.
      const mapped = await this.client.request('PUT', `/${encodeURIComponent(name)}/_mapping`, JSON.stringify(indexBodyWith(undefined).mappings), signal);
      if (retriableStatus(mapped.status)) return false;
      if (mapped.status !== 200) this.mappingWarnings.push(`index ${name} keeps its own mapping of mongo_id/mongo_unindexed: HTTP ${mapped.status} ${JSON.stringify(mapped.body).slice(0, 300)}`);
    }
    return true;
  }
}
