import type { Document } from 'mongodb';
import { CdcError } from './errors';
import { comparePositions, type StreamPosition } from './stream-position';
import type { SourceRecord } from './lambda-kafka-event';
import { decodeRecord, type DocumentTextWriter } from './record-format';
import { type CollectionNamespace, describeNamings, namespaceOfTopic, type TopicNaming } from './topic-naming';

/** The collection a change belongs to. */
export type SinkNamespace = CollectionNamespace;

/** The net change a sink applies for one document: the newest event of the batch for it. */
export interface SinkChange {
  /** "db.coll|<documentKey as canonical Extended JSON>": one document, whatever store it lands in. */
  readonly identity: string;
  readonly namespace: SinkNamespace;
  readonly documentKeyJson: string;
  readonly documentKey: Document;
  readonly version: StreamPosition;
  readonly operationType: string;
  readonly kind: 'upsert' | 'delete';
  /** The whole document after the change (upserts only): never a partial one. */
  readonly document?: Document;
  /**
   * The whole document as the batch's DocumentTextWriter wrote it, in place of `document` (upserts, when prepareBatch
   * was given a writer and it wrote the document; documentOf parses the record again for the rare caller that needs
   * the document itself).
   */
  readonly documentText?: string;
  /** Cluster time in milliseconds, for apply latency. */
  readonly clusterTimeMs: number;
  readonly record: SourceRecord;
}

export interface RejectedRecord {
  readonly record: SourceRecord;
  readonly code: 'RECORD_MALFORMED' | 'RECORD_TOO_LARGE' | 'STORE_REJECTED';
  readonly reason: string;
}

export interface PreparedBatch {
  readonly changes: SinkChange[];
  readonly malformed: RejectedRecord[];
  readonly counts: {
    readonly records: number;
    /** Null-valued records after deletes, for compacted topics: the delete itself carries the change. */
    readonly tombstones: number;
    /** drop, rename, invalidate, ...: about a collection, not a document; logged, not applied. */
    readonly controlEvents: number;
    /** Updates whose full document is missing (deleted before the lookup, or trimmed): never written partially. */
    readonly withoutDocument: number;
    /** Older events for a document that a newer event in the same batch replaces. */
    readonly superseded: number;
  };
}

const DOCUMENT_OPERATIONS = new Set(['insert', 'update', 'replace', 'delete']);

/**
 * Decodes a batch and reduces it to the newest change per document. Records that do not decode are returned with
 * their reason for the dead-letter topic; nothing is dropped without being counted. Events without `ns` (MongoDB sends
 * it with every document change, but a producer other than the relay may leave it out) take their collection from the
 * topic, named as the relay names it.
 */
export function prepareBatch(
  records: readonly SourceRecord[],
  topicNamings: readonly TopicNaming[],
  writeDocument?: DocumentTextWriter,
): PreparedBatch {
  const batch = new BatchPreparation(records, topicNamings, writeDocument);
  for (const record of records) batch.add(record);
  return batch.result();
}

/**
 * prepareBatch a slice at a time, so a store can write the first changes while the rest are decoded. `next` hands out
 * each change once it is the newest of its document for good: a change is held back while a later record of the batch
 * has the same key text, and handed out with the rest at the end. A later record with the same document but a key
 * written otherwise (never the relay's) can still supersede a change handed out: `isNewest` tells, once all is decoded.
 * `result()` is prepareBatch's answer for the whole batch, the same in every respect.
 */
export class DecodingBatch {
  private readonly preparation: BatchPreparation;
  /** Each key text's last record in the batch (latin1: one character per byte, so equal text is equal bytes). */
  private readonly lastOfKey = new Map<string, number>();
  private readonly handedOut = new Set<SinkChange>();
  /** Records decoded so far. */
  private decoded = 0;
  private done = false;

  constructor(
    private readonly records: readonly SourceRecord[],
    topicNamings: readonly TopicNaming[],
    writeDocument?: DocumentTextWriter,
  ) {
    this.preparation = new BatchPreparation(records, topicNamings, writeDocument);
    records.forEach((record, index) => {
      if (record.key !== null) this.lastOfKey.set(record.key.toString('latin1'), index);
    });
  }

  /** Decodes up to `count` more records; the changes now settled, in record order. Undefined once all were handed out. */
  next(count: number): SinkChange[] | undefined {
    if (this.done) return undefined;
    const settled: SinkChange[] = [];
    const end = Math.min(this.records.length, this.decoded + count);
    for (; this.decoded < end; this.decoded++) {
      const record = this.records[this.decoded] as SourceRecord;
      const identity = this.preparation.add(record);
      if (identity === undefined || record.key === null || this.lastOfKey.get(record.key.toString('latin1')) !== this.decoded) continue;
      const newest = this.preparation.newestOf(identity);
      if (newest !== undefined && !this.handedOut.has(newest)) {
        this.handedOut.add(newest);
        settled.push(newest);
      }
    }
    if (this.decoded === this.records.length) {
      this.done = true;
      for (const change of this.preparation.changes()) {
        if (!this.handedOut.has(change)) {
          this.handedOut.add(change);
          settled.push(change);
        }
      }
    }
    return settled;
  }

  /** Whether the change is its document's newest in the batch; final once `next` has returned undefined. */
  isNewest(change: SinkChange): boolean {
    return this.preparation.newestOf(change.identity) === change;
  }

  result(): PreparedBatch {
    if (!this.done) throw new Error('the batch is not decoded yet');
    return this.preparation.result();
  }
}

/** The reduction prepareBatch makes, one record at a time. */
class BatchPreparation {
  private readonly newest = new Map<string, SinkChange>();
  private readonly malformed: RejectedRecord[] = [];
  private tombstones = 0;
  private controlEvents = 0;
  private withoutDocument = 0;
  private superseded = 0;

  constructor(
    private readonly records: readonly SourceRecord[],
    private readonly topicNamings: readonly TopicNaming[],
    private readonly writeDocument: DocumentTextWriter | undefined,
  ) {}

  /** Takes one record in; the identity of the document it changes, when it is a change of one. */
  add(record: SourceRecord): string | undefined {
    let decoded: ReturnType<typeof decodeRecord>;
    try {
      decoded = decodeRecord({ key: record.key, value: record.value }, this.writeDocument);
    } catch (error) {
      if (error instanceof CdcError && error.code === 'RECORD_MALFORMED') {
        this.malformed.push({ record, code: 'RECORD_MALFORMED', reason: error.message });
        return undefined;
      }
      throw error;
    }
    if (decoded.tombstone) {
      this.tombstones++;
      return undefined;
    }
    const event = decoded.event as unknown as Document;
    const operationType = String(event.operationType);
    if (!DOCUMENT_OPERATIONS.has(operationType)) {
      this.controlEvents++;
      return undefined;
    }
    const namespace =
      decoded.namespace?.coll !== undefined
        ? { db: decoded.namespace.db, coll: decoded.namespace.coll }
        : namespaceOfTopic(this.topicNamings, record.topic);
    if (!namespace) {
      this.malformed.push({
        record,
        code: 'RECORD_MALFORMED',
        reason: `event has no ns and topic "${record.topic}" names no collection (expected ${describeNamings(this.topicNamings)})`,
      });
      return undefined;
    }
    const isDelete = operationType === 'delete';
    const fullDocument = event.fullDocument as Document | null | undefined;
    const documentText = decoded.fullDocumentText;
    if (!isDelete && documentText === undefined && (fullDocument === null || fullDocument === undefined)) {
      this.withoutDocument++;
      return undefined;
    }
    const change: SinkChange = {
      identity: `${namespace.db}.${namespace.coll}|${decoded.documentKeyJson}`,
      namespace,
      documentKeyJson: decoded.documentKeyJson,
      documentKey: event.documentKey as Document,
      version: decoded.version,
      operationType,
      kind: isDelete ? 'delete' : 'upsert',
      ...(isDelete ? {} : documentText !== undefined ? { documentText } : { document: fullDocument as Document }),
      clusterTimeMs: decoded.version.seconds * 1000,
      record,
    };
    const current = this.newest.get(change.identity);
    if (!current || comparePositions(current.version, change.version) < 0) {
      if (current) this.superseded++;
      this.newest.set(change.identity, change);
    } else {
      this.superseded++;
    }
    return change.identity;
  }

  newestOf(identity: string): SinkChange | undefined {
    return this.newest.get(identity);
  }

  changes(): IterableIterator<SinkChange> {
    return this.newest.values();
  }

  result(): PreparedBatch {
    return {
      changes: [...this.newest.values()],
      malformed: this.malformed,
      counts: {
        records: this.records.length,
        tombstones: this.tombstones,
        controlEvents: this.controlEvents,
        withoutDocument: this.withoutDocument,
        superseded: this.superseded,
      },
    };
  }
}

/** The change's whole document: `document`, or, for a change that carries only its written text, the record's. */
export function documentOf(change: SinkChange): Document | undefined {
  if (change.document !== undefined || change.documentText === undefined) return change.document;
  const decoded = decodeRecord({ key: change.record.key, value: change.record.value });
  return decoded.tombstone ? undefined : ((decoded.event as unknown as Document).fullDocument as Document | undefined);
}
