import { type ChangeStreamDocument, type Document, Timestamp } from 'mongodb';
import { type EncodedEvent, recordsForEvent } from './event-records';
import type { StreamConfig } from './relay-config';
import type { ReadPoint } from './snapshot-reader';

/**
 * A snapshot copy ranks above every change event of its read time T (whatever their ordinals: the copy was read after
 * all of them) and below every change after T. So its ordinal is the largest one a version can hold.
 */
export const SNAPSHOT_ORDINAL = 0xffff_ffff;

/**
 * A copied document as an insert-shaped change event (operationType, clusterTime = T, ns, documentKey, fullDocument),
 * which every consumer of change events, the official MongoDB Kafka sink connector included, applies as an upsert.
 * It has no `_id` (there is no resume token for a copy) and no `wallTime`.
 */
export function snapshotEvent(document: Document, namespace: { db: string; coll: string }, at: ReadPoint): ChangeStreamDocument {
  return {
    operationType: 'insert',
    clusterTime: new Timestamp({ t: at.seconds, i: at.increment }),
    ns: { db: namespace.db, coll: namespace.coll },
    documentKey: { _id: document._id },
    fullDocument: document,
  } as unknown as ChangeStreamDocument;
}

/** The records for one copied document, through the same oversize policy (trim or dead-letter) as a change event. */
export function recordsForCopy(
  document: Document,
  namespace: { db: string; coll: string },
  at: ReadPoint,
  snapshotId: string,
  stream: StreamConfig,
  maxRecordBytes: number,
): EncodedEvent {
  return recordsForEvent(snapshotEvent(document, namespace, at), SNAPSHOT_ORDINAL, stream, maxRecordBytes, snapshotId);
}
