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
  const newest = new Map<string, SinkChange>();
  const malformed: RejectedRecord[] = [];
  let tombstones = 0;
  let controlEvents = 0;
  let withoutDocument = 0;
  let superseded = 0;

  for (const record of records) {
    let decoded: ReturnType<typeof decodeRecord>;
    try {
      decoded = decodeRecord({ key: record.key, value: record.value }, writeDocument);
    } catch (error) {
      if (error instanceof CdcError && error.code === 'RECORD_MALFORMED') {
        malformed.push({ record, code: 'RECORD_MALFORMED', reason: error.message });
        continue;
      }
      throw error;
    }
    if (decoded.tombstone) {
      tombstones++;
      continue;
    }
    const event = decoded.event as unknown as Document;
    const operationType = String(event.operationType);
    if (!DOCUMENT_OPERATIONS.has(operationType)) {
      controlEvents++;
      continue;
    }
    const namespace =
      decoded.namespace?.coll !== undefined
        ? { db: decoded.namespace.db, coll: decoded.namespace.coll }
        : namespaceOfTopic(topicNamings, record.topic);
    if (!namespace) {
      malformed.push({
        record,
        code: 'RECORD_MALFORMED',
        reason: `event has no ns and topic "${record.topic}" names no collection (expected ${describeNamings(topicNamings)})`,
      });
      continue;
    }
    const isDelete = operationType === 'delete';
    const fullDocument = event.fullDocument as Document | null | undefined;
    const documentText = decoded.fullDocumentText;
    if (!isDelete && documentText === undefined && (fullDocument === null || fullDocument === undefined)) {
      withoutDocument++;
      continue;
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
    const current = newest.get(change.identity);
    if (!current || comparePositions(current.version, change.version) < 0) {
      if (current) superseded++;
      newest.set(change.identity, change);
    } else {
      superseded++;
    }
  }
  return {
    changes: [...newest.values()],
    malformed,
    counts: { records: records.length, tombstones, controlEvents, withoutDocument, superseded },
  };
}

/** The change's whole document: `document`, or, for a change that carries only its written text, the record's. */
export function documentOf(change: SinkChange): Document | undefined {
  if (change.document !== undefined || change.documentText === undefined) return change.document;
  const decoded = decodeRecord({ key: change.record.key, value: change.record.value });
  return decoded.tombstone ? undefined : ((decoded.event as unknown as Document).fullDocument as Document | undefined);
}
