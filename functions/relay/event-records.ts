import { BSON, type ChangeStreamDocument } from 'mongodb';
import { DEAD_LETTER_HEADERS } from '../../shared/dead-letter';
import { CdcError } from '../../shared/errors';
import { encodeChangeEvent, type EncodedRecord, tombstoneFor } from '../../shared/record-format';
import { deadLetterTopicOf, topicForNamespace } from '../../shared/topic-naming';
import type { StreamConfig } from './relay-config';
import { type OutgoingRecord, recordSize } from './record-producer';

export interface EncodedEvent {
  readonly records: OutgoingRecord[];
  /** Set when the event could not go out as itself and went to the dead-letter topic instead. */
  readonly deadLettered?: { readonly code: DeadLetterCode; readonly reason: string; readonly size: number };
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
  const topic = topicForNamespace(stream, namespaceOf(event, stream));
  const marks = snapshot === undefined ? {} : { snapshot };
  let encoded: EncodedRecord;
  try {
    encoded = encodeChangeEvent(event, { ordinal, ...marks });
  } catch (error) {
    // A poison event (seen: an invalidate without clusterTime) must not fail every later invocation: it goes to the
    // dead-letter topic with the reason and its resume token, and the stream moves past it.
    if (!(error instanceof CdcError && error.code === 'RECORD_MALFORMED')) throw error;
    const deadLetter = deadLetterRecord(stream, event, Buffer.from(BSON.EJSON.stringify(event._id ?? null, { relaxed: false })), topic, {
      code: 'RECORD_MALFORMED',
      reason: error.message,
    });
    const size = recordSize(deadLetter);
    return { records: [deadLetter], deadLettered: { code: 'RECORD_MALFORMED', reason: error.message, size }, trimmed: false, bytes: size };
  }
  const record: OutgoingRecord = { topic, ...encoded };
  const size = recordSize(record);
  if (size <= maxRecordBytes) {
    const records = [record];
    if (stream.tombstones && event.operationType === 'delete') records.push({ topic, ...tombstoneFor(encoded.key) });
    return { records, trimmed: false, bytes: size };
  }

  if (stream.oversize === 'trim') {
    const trimmed = encodeChangeEvent(withoutDocuments(event), { ordinal, trimmed: true, ...marks });
    const trimmedRecord: OutgoingRecord = { topic, ...trimmed };
    const trimmedSize = recordSize(trimmedRecord);
    if (trimmedSize <= maxRecordBytes) return { records: [trimmedRecord], trimmed: true, bytes: trimmedSize };
  }

  const reason = `event of ${size} bytes exceeds the ${maxRecordBytes}-byte record limit (policy ${stream.oversize})`;
  const deadLetter = deadLetterRecord(stream, event, encoded.key, topic, { code: 'RECORD_TOO_LARGE', reason, size, limit: maxRecordBytes });
  return { records: [deadLetter], deadLettered: { code: 'RECORD_TOO_LARGE', reason, size }, trimmed: false, bytes: recordSize(deadLetter) };
}

type DeadLetterCode = 'RECORD_TOO_LARGE' | 'RECORD_MALFORMED';

function deadLetterRecord(
  stream: StreamConfig,
  event: ChangeStreamDocument,
  key: Buffer,
  intendedTopic: string,
  why: { readonly code: DeadLetterCode; readonly reason: string; readonly size?: number; readonly limit?: number },
): OutgoingRecord {
  const { code, reason } = why;
  const metadata = {
    reason,
    code,
    streamId: stream.id,
    intendedTopic,
    ...(why.size !== undefined ? { size: why.size, limit: why.limit } : {}),
    operationType: event.operationType,
    ns: 'ns' in event ? event.ns : undefined,
    documentKey: 'documentKey' in event ? event.documentKey : undefined,
    clusterTime: 'clusterTime' in event ? event.clusterTime : undefined,
    resumeToken: event._id,
  };
  return {
    topic: deadLetterTopicOf(stream),
    key,
    value: Buffer.from(BSON.EJSON.stringify(metadata, { relaxed: false })),
    headers: {
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.code]: code,
      [DEAD_LETTER_HEADERS.stream]: stream.id,
    },
  };
}
