import { BSON, type ChangeStreamDocument, type Document, Timestamp } from 'mongodb';
import { BsonCanonicalJsonWriter, NeedsObjectPath } from '../../shared/bson-canonical-json';
import { copyRecordFrame, snapshotHeaders } from '../../shared/record-format';
import { topicForNamespace } from '../../shared/topic-naming';
import { type EncodedEvent, recordsForEvent } from './event-records';
import { kafkaRecordSize } from '../../shared/kafka-record-size';
import type { OutgoingRecord } from './record-producer';
import type { StreamConfig } from './relay-config';
import type { ReadPoint } from './snapshot-reader';

/**
 * A snapshot copy ranks above every change event of its read time T (whatever their ordinals: the copy was read after
 * all of them) and below every change after T. So its ordinal is the largest one a version can hold.
 */
export const SNAPSHOT_ORDINAL = 0xffff_ffff;

/** Values keep their BSON types (Int32 stays Int32, Int64 stays Long), exactly as the change stream reads them. */
export const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

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

/** The records of one chunk of copied documents and what the chunk's log line and metrics count. */
export interface EncodedCopies {
  readonly records: OutgoingRecord[];
  readonly bytes: number;
  readonly deadLettered: number;
  readonly trimmed: number;
  /** Documents written through the object path (refused by the byte writer, or over the size limit). */
  readonly viaObjects: number;
}

/**
 * Encodes a chunk's raw documents (BSON bytes as the server sent them) into their records, writing the canonical
 * Extended JSON straight from the bytes (shared/bson-canonical-json.ts): no document, event or string is built per
 * copy. A document the byte writer refuses (see NeedsObjectPath) and a record over the size limit (trimmed or dead-
 * lettered by the oversize policy) take the object path, `recordsForCopy`, exactly as every copy did before.
 */
export class CopyEncoder {
  private readonly writer = new BsonCanonicalJsonWriter();
  private readonly frame: { key: [Buffer, Buffer]; value: [Buffer, Buffer, Buffer] };
  private readonly topic: string;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly headerBytes: number;

  constructor(
    private readonly namespace: { db: string; coll: string },
    private readonly at: ReadPoint,
    private readonly snapshotId: string,
    private readonly stream: StreamConfig,
    private readonly maxRecordBytes: number,
  ) {
    const frame = copyRecordFrame(new Timestamp({ t: at.seconds, i: at.increment }), namespace, { ordinal: SNAPSHOT_ORDINAL, snapshot: snapshotId });
    const utf8 = (text: string) => Buffer.from(text, 'utf8');
    this.frame = { key: [utf8(frame.key[0]), utf8(frame.key[1])], value: [utf8(frame.value[0]), utf8(frame.value[1]), utf8(frame.value[2])] };
    this.topic = topicForNamespace(stream, namespace);
    this.headers = snapshotHeaders(snapshotId);
    this.headerBytes = kafkaRecordSize({ key: null, value: null, headers: this.headers }) - RECORD_OVERHEAD;
  }

  encode(documents: readonly Buffer[]): EncodedCopies {
    const records: OutgoingRecord[] = [];
    let bytes = 0;
    let deadLettered = 0;
    let trimmed = 0;
    let viaObjects = 0;
    for (const document of documents) {
      const record = this.fromBytes(document);
      const size = record ? RECORD_OVERHEAD + record.key.length + (record.value?.length ?? 0) + this.headerBytes : 0; // = kafkaRecordSize(record)
      if (record && size <= this.maxRecordBytes) {
        records.push(record);
        bytes += size;
        continue;
      }
      viaObjects++;
      const encoded = recordsForCopy(BSON.deserialize(document, RAW_VALUES), this.namespace, this.at, this.snapshotId, this.stream, this.maxRecordBytes);
      for (const each of encoded.records) records.push(each);
      bytes += encoded.bytes;
      if (encoded.deadLettered) deadLettered++;
      if (encoded.trimmed) trimmed++;
    }
    return { records, bytes, deadLettered, trimmed, viaObjects };
  }

  /** The copy's record written from the bytes, or undefined when the document needs the object path. */
  private fromBytes(document: Buffer): OutgoingRecord | undefined {
    const writer = this.writer;
    try {
      writer.raw(this.frame.key[0]);
      const idStart = writer.length;
      writer.id(document);
      const idEnd = writer.length;
      writer.raw(this.frame.key[1]);
      const key = writer.take();
      writer.raw(this.frame.value[0]);
      writer.raw(key.subarray(idStart, idEnd));
      writer.raw(this.frame.value[1]);
      writer.document(document, 0);
      writer.raw(this.frame.value[2]);
      return { topic: this.topic, key, value: writer.take(), headers: this.headers };
    } catch (error) {
      writer.discard();
      // RangeError: nesting deeper than the stack allows; the object path has its own answer for that.
      if (error instanceof NeedsObjectPath || error instanceof RangeError) return undefined;
      throw error;
    }
  }
}

/** kafkaRecordSize's fixed allowance for a record's framing. */
const RECORD_OVERHEAD = kafkaRecordSize({ key: null, value: null, headers: {} });
