import { type ChangeStreamDocument, Timestamp } from 'mongodb';
import { BsonCanonicalJsonWriter, NeedsObjectPath } from '../../shared/bson-canonical-json';
import { stringifyCanonical } from '../../shared/canonical-json';
import { kafkaRecordSize } from '../../shared/kafka-record-size';
import { CHANGE_HEADERS, cdcMember, tombstoneFor } from '../../shared/record-format';
import { clusterTimeOfEvent, nextPosition, type StreamPosition } from '../../shared/stream-position';
import { topicForNamespace } from '../../shared/topic-naming';
import { BSON_DOCUMENT, decodeChangeEvent, EventFields, MalformedEvent, plainNamespace, readEventFields, type ValueAt } from './change-event-fields';
import { type EncodedEvent, recordsForEvent } from './event-records';
import type { OutgoingRecord } from './record-producer';
import type { StreamConfig } from './relay-config';

/** One change event turned into its records, with what the batch reader needs to know about it. */
export interface EncodedChange extends EncodedEvent {
  /** The event's position (cluster time and ordinal); the previous one when the event has no cluster time. */
  readonly position: StreamPosition | undefined;
  readonly operationType: string | undefined;
  /** Written from the event's bytes (true) or through the deserialized event (the object path). */
  readonly fromBytes: boolean;
}

/** One writer for every encoder of this thread: encoding is synchronous, so no two events share it at once. */
const writer = new BsonCanonicalJsonWriter();

/** kafkaRecordSize's fixed allowance for a record's framing. */
const RECORD_OVERHEAD = kafkaRecordSize({ key: null, value: null, headers: {} });
/** What the (shared, frozen) change headers add to every record's size. */
const HEADER_BYTES = kafkaRecordSize({ key: null, value: null, headers: CHANGE_HEADERS }) - RECORD_OVERHEAD;

/** `,"_cdc":{...}}`: what closes a record's value, for the ordinals a transaction's events get (most events: 0). */
const CDC_TAILS: Buffer[] = [];
function cdcTail(ordinal: number): Buffer {
  const cached = CDC_TAILS[ordinal];
  if (cached) return cached;
  const tail = Buffer.from(`,"_cdc":${stringifyCanonical(cdcMember({ ordinal }))}}`, 'utf8');
  if (ordinal < 64) CDC_TAILS[ordinal] = tail;
  return tail;
}

/**
 * Encodes change events from their BSON bytes (as the raw change stream reads them) into the records
 * `recordsForEvent` makes of the deserialized event, byte for byte: the key is the documentKey's canonical Extended
 * JSON, the value the event's with `_cdc` appended, written straight from the bytes by the writer the snapshot uses
 * (shared/bson-canonical-json.ts). Only the few top-level fields the relay reads are located (change-event-fields.ts).
 * An event the byte path does not take (no documentKey document or plain `ns`, no Timestamp cluster time, a `_cdc`
 * field, a shape the writer refuses, a record over the size limit) is deserialized and goes through
 * `recordsForEvent`, exactly as every event did before, with its oversize and dead-letter policies.
 */
export class ChangeEncoder {
  /** Refilled for each event. */
  private readonly fields = new EventFields();
  private lastNs: Buffer | undefined;
  private lastTopic = '';

  constructor(
    private readonly stream: StreamConfig,
    private readonly maxRecordBytes: number,
  ) {}

  encode(event: Buffer, previous: StreamPosition | undefined): EncodedChange {
    let fields: EventFields | undefined;
    try {
      fields = readEventFields(event, this.fields);
    } catch (error) {
      if (!(error instanceof MalformedEvent)) throw error;
    }
    if (fields?.hasClusterTime) {
      const position = nextPosition(previous, new Timestamp({ t: fields.seconds, i: fields.increment }));
      const record = this.fromBytes(event, fields, position.ordinal);
      if (record) {
        const size = RECORD_OVERHEAD + record.key.length + (record.value?.length ?? 0) + HEADER_BYTES; // = kafkaRecordSize(record)
        if (size <= this.maxRecordBytes) {
          const records = [record];
          if (this.stream.tombstones && fields.operationType === 'delete') records.push({ topic: record.topic, ...tombstoneFor(record.key) });
          return { records, trimmed: false, bytes: size, position, operationType: fields.operationType, fromBytes: true };
        }
      }
    }
    return this.viaObjects(event, previous);
  }

  /** The path every event took before: deserialize it, then `recordsForEvent`. */
  private viaObjects(bytes: Buffer, previous: StreamPosition | undefined): EncodedChange {
    const event = decodeChangeEvent(bytes) as ChangeStreamDocument;
    const clusterTime = clusterTimeOfEvent(event);
    // An event without a cluster time (dead-lettered) leaves the position where it was.
    const position = clusterTime ? nextPosition(previous, clusterTime) : previous;
    const encoded = recordsForEvent(event, position?.ordinal ?? 0, this.stream, this.maxRecordBytes);
    const operationType: unknown = event.operationType;
    return { ...encoded, position, operationType: typeof operationType === 'string' ? operationType : undefined, fromBytes: false };
  }

  /** The event's record written from its bytes, or undefined when it needs the object path. */
  private fromBytes(event: Buffer, fields: EventFields, ordinal: number): OutgoingRecord | undefined {
    const { documentKey, ns } = fields;
    if (fields.hasCdc || documentKey.type !== BSON_DOCUMENT || ns.type === 0) return undefined;
    try {
      const topic = this.topicOf(event, ns);
      if (topic === undefined) return undefined;
      writer.document(event, documentKey.start);
      const key = writer.take();
      const hasFields = writer.documentOpen(event, 0);
      const tail = cdcTail(ordinal);
      // An event always has fields; the comma rule is the one stringifyCanonicalWithMember follows.
      writer.raw(hasFields ? tail : tail.subarray(1));
      return { topic, key, value: writer.take(), headers: CHANGE_HEADERS };
    } catch (error) {
      writer.discard();
      // RangeError: nesting deeper than the stack allows; the object path has its own answer for that.
      if (error instanceof NeedsObjectPath || error instanceof MalformedEvent || error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /** The topic of the event's namespace; consecutive events of one namespace reuse it without decoding `ns` again. */
  private topicOf(event: Buffer, ns: ValueAt): string | undefined {
    const last = this.lastNs;
    if (last && last.length === ns.end - ns.start && event.compare(last, 0, last.length, ns.start, ns.end) === 0) return this.lastTopic;
    const namespace = plainNamespace(event, ns);
    // An empty db without a coll: the object path names the topic from the stream's own collection then.
    if (!namespace || (namespace.db === '' && namespace.coll === undefined)) return undefined;
    this.lastTopic = topicForNamespace(this.stream, namespace);
    this.lastNs = Buffer.from(event.subarray(ns.start, ns.end));
    return this.lastTopic;
  }
}
