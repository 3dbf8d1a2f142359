import { CdcError } from '../../shared/errors';
import { positionToExternalLong } from '../../shared/stream-position';
import type { SinkChange } from '../../shared/sink-batch';
import { searchDocumentId, searchDocumentJson } from './search-document';

/*
 * The `_bulk` request the OpenSearch sink sends, and the part of the answer it reads. Pure functions: the store
 * (opensearch-store.ts) decides what to do with each item's result.
 */

/**
 * `_bulk` with the answer cut to what the store reads: `errors`, each item's `status` and `error` (type, reason and
 * caused_by chain). Every item has a status, so the answer keeps one entry per write, in order. A refusal of the whole
 * request (`{"error": ..., "status": ...}`) keeps its error for the message. Without the filter, each successful item
 * also carries its index, id, version, result, shard counts, sequence number and primary term: ~225 bytes instead of
 * ~25, which OpenSearch writes (and compresses, for a client that asks) and the sink reads and parses, 500 times a batch.
 */
export const BULK_PATH = '/_bulk?filter_path=errors,error,status,items.*.status,items.*.error';

/** Writes per `_bulk` request (SINK_OPENSEARCH_BULK_DOCUMENTS). */
export const DEFAULT_BULK_DOCUMENTS = 250;
/**
 * Bytes per `_bulk` request (SINK_OPENSEARCH_BULK_BYTES), counted as the records' value sizes, which exceed the sources
 * written (a record holds the event around the document, in Extended JSON). Amazon OpenSearch Service refuses an HTTP
 * request over 10 MiB on its smaller instance types (100 MiB on larger ones), with a 413 that no retry cures.
 */
export const DEFAULT_BULK_BYTES = 5 * 1024 * 1024;
/** `_bulk` requests of one batch in flight at once (SINK_OPENSEARCH_BULK_CONCURRENCY). */
export const DEFAULT_BULK_CONCURRENCY = 2;

export interface BulkItemError {
  type?: string;
  reason?: string;
  caused_by?: BulkItemError;
}

export interface BulkItemResult {
  status: number;
  error?: BulkItemError;
}

export interface BulkResponseBody {
  errors?: boolean;
  items?: Array<Record<string, BulkItemResult>>;
}

/**
 * Consecutive runs of at most `size` items and at most `maxBytes` bytes as `bytesOf` counts them (the last run may be
 * shorter; an item larger than `maxBytes` goes alone). Both limits must be positive integers.
 */
export function subBulks<T>(items: readonly T[], size: number, maxBytes = Number.MAX_SAFE_INTEGER, bytesOf: (item: T) => number = () => 0): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`sub-bulk size must be a positive integer, not ${size}`);
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`sub-bulk byte limit must be a positive integer, not ${maxBytes}`);
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = bytesOf(item);
    if (part.length > 0 && (part.length === size || bytes + itemBytes > maxBytes)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += itemBytes;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * The ndjson body for these changes: an action line per change with the external version, and the source line for
 * upserts (`documents` holds sources with fields already moved aside; the others are built here).
 */
export function bulkBody(
  changes: readonly SinkChange[],
  indexFor: (change: SinkChange) => string,
  documents: ReadonlyMap<SinkChange, Record<string, unknown>>,
): string {
  let body = '';
  for (const change of changes) body += bulkLines(change, indexFor, documents);
  return body;
}

/**
 * bulkBody's text as UTF-8 bytes, each line encoded into one buffer as it is written: the request then sends these
 * bytes as they are. A body built as one string was joined (flattened) when its length was taken, scanned again for
 * its UTF-8 length and encoded once more into a buffer of three times its length when written to the socket: about
 * 1 µs a document, for nothing. `sizeHint` is the expected byte count (the buffer grows past it when needed).
 */
export function bulkBodyBytes(
  changes: readonly SinkChange[],
  indexFor: (change: SinkChange) => string,
  documents: ReadonlyMap<SinkChange, Record<string, unknown>>,
  sizeHint: number,
): Buffer {
  let buffer = Buffer.allocUnsafe(Math.max(1024, sizeHint));
  let length = 0;
  for (const change of changes) {
    const lines = bulkLines(change, indexFor, documents);
    // A UTF-16 code unit is at most three bytes of UTF-8: room for that much means the whole text is written.
    const room = length + lines.length * 3;
    if (room > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(room, buffer.length * 2));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    length += buffer.write(lines, length, 'utf8');
  }
  return buffer.subarray(0, length);
}

/** The last index name written and its JSON: a batch's changes nearly all go to one index. */
let lastIndex: string | undefined;
let lastIndexJson = '';

function indexJson(index: string): string {
  if (index !== lastIndex) {
    lastIndexJson = JSON.stringify(index);
    lastIndex = index;
  }
  return lastIndexJson;
}

/** One change's lines of the body: its action line and, for an upsert, its source line. */
function bulkLines(change: SinkChange, indexFor: (change: SinkChange) => string, documents: ReadonlyMap<SinkChange, Record<string, unknown>>): string {
  // Written by hand so the external version goes out as an exact integer (it can exceed 2^53, beyond JSON doubles).
  const meta =
    `{"_index":${indexJson(indexFor(change))},"_id":${JSON.stringify(searchDocumentId(change.documentKeyJson))},` +
    `"version":${positionToExternalLong(change.version)},"version_type":"external_gte"}`;
  return change.kind === 'delete' ? `{"delete":${meta}}\n` : `{"index":${meta}}\n${sourceJson(change, documents)}\n`;
}

function sourceJson(change: SinkChange, documents: ReadonlyMap<SinkChange, Record<string, unknown>>): string {
  const moved = documents.get(change);
  if (moved) return JSON.stringify(moved);
  // Written while decoding by the store's documentWriter (searchSourceText): the same text searchDocumentJson gives.
  return change.documentText ?? searchDocumentJson(change.document ?? {});
}

/**
 * Each write's result, in the order of the request. Throws when the answer does not hold exactly one item per write:
 * matching results to writes by position is then unsafe.
 */
export function bulkItemResults(body: BulkResponseBody, writes: number): Array<BulkItemResult | undefined> {
  const items = body.items ?? [];
  if (items.length !== writes) throw new CdcError('STORE_UNAVAILABLE', `OpenSearch answered _bulk with ${items.length} items for ${writes} writes`);
  return items.map((item) => {
    for (const action in item) return item[action];
    return undefined;
  });
}
