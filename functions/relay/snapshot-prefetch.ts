import type { Document } from 'mongodb';
import { isFinished, type KeyCursor } from './snapshot-plan';
import type { ReadPoint, RawChunk } from './snapshot-reader';

type Namespace = { readonly db: string; readonly coll: string };

/** What the prefetch needs of a reader: a read point, and a chunk's documents as the server sent them. */
export interface RawChunkSource {
  readPoint(): Promise<ReadPoint>;
  readRaw(namespace: Namespace, cursor: KeyCursor, limit: number, at: ReadPoint, filter?: Document): Promise<RawChunk>;
}

/** A chunk's documents and the read point taken just before them. */
export interface RawRead {
  readonly at: ReadPoint;
  readonly raw: RawChunk;
}

/** Which chunk a read is: the collection, the cursor in it, the chunk size and the filter (as canonical text). */
const keyOf = (namespace: Namespace, cursor: KeyCursor, limit: number, filterText: string | undefined) =>
  JSON.stringify([namespace.db, namespace.coll, cursor.bracket, cursor.after ?? null, limit, filterText ?? null]);

/**
 * `readFromNow` on the reading thread, one chunk ahead of what was asked: as soon as a chunk's documents arrive, the
 * next chunk's read point and documents are asked for, so the server answers that while this thread encodes the
 * chunk in hand (and the producing thread sends the one before). Each chunk still takes its own read point just before
 * its own documents, as every chunk read ahead does (snapshot-step.ts): a chunk read early and sent later is superseded
 * in the sinks by the changes after its read point, which the live stream carries. A prefetch nobody asks for (the
 * turn or the invocation ended, or the caller moved elsewhere) is dropped; its failure is never unhandled.
 */
export class ChunkPrefetch {
  private ahead: { key: string; reading: Promise<RawRead> } | undefined;

  constructor(private readonly source: RawChunkSource) {}

  /** The chunk at `cursor` with its read point: the one prefetched for it, or read now; then prefetches the next. */
  async readFromNow(namespace: Namespace, cursor: KeyCursor, limit: number, filter: Document | undefined, filterText: string | undefined): Promise<RawRead> {
    const key = keyOf(namespace, cursor, limit, filterText);
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead !== undefined && ahead.key !== key) await ahead.reading.catch(() => undefined);
    // A prefetch that failed (a connection cut meanwhile) is read again now, which fails on its own account or not.
    const read = await (ahead?.key === key ? ahead.reading.catch(() => this.read(namespace, cursor, limit, filter)) : this.read(namespace, cursor, limit, filter));
    this.prefetchAfter(namespace, read, limit, filter, filterText);
    return read;
  }

  /** The chunk at `cursor` read at the given read point (never a prefetched one: its own is earlier); then prefetches the next. */
  async readAt(namespace: Namespace, cursor: KeyCursor, limit: number, at: ReadPoint, filter: Document | undefined, filterText: string | undefined): Promise<RawRead> {
    await this.drop();
    const read = { at, raw: await this.source.readRaw(namespace, cursor, limit, at, filter) };
    this.prefetchAfter(namespace, read, limit, filter, filterText);
    return read;
  }

  /** Waits for a prefetch in flight (before the client closes), ignoring how it ends. */
  async drop(): Promise<void> {
    const ahead = this.ahead;
    this.ahead = undefined;
    await ahead?.reading.catch(() => undefined);
  }

  private prefetchAfter(namespace: Namespace, read: RawRead, limit: number, filter: Document | undefined, filterText: string | undefined): void {
    const cursor = read.raw.next;
    // Only after a full chunk: a short one ends its bracket, and what follows may well be the end of the collection.
    if (isFinished(cursor) || read.raw.documents.length < limit) return;
    const reading = this.read(namespace, cursor, limit, filter);
    // Taken by the next readFromNow, or dropped; never an unhandled rejection meanwhile.
    reading.catch(() => undefined);
    this.ahead = { key: keyOf(namespace, cursor, limit, filterText), reading };
  }

  private async read(namespace: Namespace, cursor: KeyCursor, limit: number, filter: Document | undefined): Promise<RawRead> {
    const at = await this.source.readPoint();
    return { at, raw: await this.source.readRaw(namespace, cursor, limit, at, filter) };
  }
}
