import { BSON, type ChangeStreamDocument } from 'mongodb';
import { DEAD_LETTER_HEADERS } from '../../shared/dead-letter';
import { encodeChangeEvent } from '../../shared/record-format';
import { deadLetterTopicFor, type StreamConfig, topicFor } from './relay-config';
import { type OutgoingRecord, recordSize } from './record-producer';

export interface EncodedEvent {
  readonly records: OutgoingRecord[];
  /** Set when the event could not go out as itself and went to the dead-letter topic instead. */
  readonly deadLettered?: { readonly reason: string; readonly size: number };
  readonly trimmed: boolean;
  readonly bytes: number;
}

interface EventNamespace {
  db: string;
  coll?: string;
}

function namespaceOf(event: ChangeStreamDocument, stream: StreamConfig): EventNamespace {
  const ns = 'ns' in event ? (event.ns as Partial<EventNamespace> | undefined) : undefined;
  // The event names its namespace; a collection stream knows it even where a server leaves it out.
  const db = ns?.db ?? stream.database ?? 'unknown';
  const coll = ns?.coll ?? (ns?.db ? undefined : stream.collection);
  return coll ? { db, coll } : { db };
}

function withoutDocuments(event: ChangeStreamDocument): ChangeStreamDocument {
  const { fullDocument: _full, fullDocumentBeforeChange: _before, ...rest } = event as ChangeStreamDocument & {
    fullDocument?: unknown;
    fullDocumentBeforeChange?: unknown;
  };
  return rest as ChangeStreamDocument;
}

/**
 * Turns one change event into the records that represent it in Kafka: the event on its namespace topic (plus a
 * tombstone after a delete when configured), or, when it is too large to send, what the oversize policy says.
 * Nothing is dropped: an event that cannot be sent whole is trimmed or dead-lettered, and the caller counts both.
 */
export function recordsForEvent(
  event: ChangeStreamDocument,
  ordinal: number,
  stream: StreamConfig,
  maxRecordBytes: number,
  snapshot?: string,
): EncodedEvent {
  const topic = topicFor(stream, namespaceOf(event, stream));
  const marks = snapshot === undefined ? {} : { snapshot };
  const encoded = encodeChangeEvent(event, { ordinal, ...marks });
  const record: OutgoingRecord = { topic, ...encoded };
  const size = recordSize(record);
  if (size <= maxRecordBytes) {
    const records = [record];
    if (stream.tombstones && event.operationType === 'delete') records.push({ topic, key: encoded.key, value: null, headers: {} });
    return { records, trimmed: false, bytes: size };
  }

  if (stream.oversize === 'trim') {
    const trimmed = encodeChangeEvent(withoutDocuments(event), { ordinal, trimmed: true, ...marks });
    const trimmedRecord: OutgoingRecord = { topic, ...trimmed };
    const trimmedSize = recordSize(trimmedRecord);
    if (trimmedSize <= maxRecordBytes) return { records: [trimmedRecord], trimmed: true, bytes: trimmedSize };
  }

  const reason = `event of ${size} bytes exceeds the ${maxRecordBytes}-byte record limit (policy ${stream.oversize})`;
  const deadLetter = deadLetterRecord(stream, event, encoded.key, topic, reason, size, maxRecordBytes);
  return { records: [deadLetter], deadLettered: { reason, size }, trimmed: false, bytes: recordSize(deadLetter) };
}

function deadLetterRecord(
  stream: StreamConfig,
  event: ChangeStreamDocument,
  key: Buffer,
  intendedTopic: string,
  reason: string,
  size: number,
  limit: number,
): OutgoingRecord {
  const metadata = {
    reason,
    code: 'RECORD_TOO_LARGE',
    streamId: stream.id,
    intendedTopic,
    size,
    limit,
    operationType: event.operationType,
    ns: 'ns' in event ? event.ns : undefined,
    documentKey: 'documentKey' in event ? event.documentKey : undefined,
    clusterTime: 'clusterTime' in event ? event.clusterTime : undefined,
    resumeToken: event._id,
  };
  return {
    topic: deadLetterTopicFor(stream),
    key,
    value: Buffer.from(BSON.EJSON.stringify(metadata, { relaxed: false })),
    headers: {
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.code]: 'RECORD_TOO_LARGE',
      [DEAD_LETTER_HEADERS.stream]: stream.id,
    },
  };
}
