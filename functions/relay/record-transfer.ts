import { encodeHeaders, recordBodySize, sizeOfVarInt, writeRecordBody } from '../../shared/kafka-record-body';
import type { OutgoingRecord } from './record-producer';

/*
 * Records handed from a worker thread to the main thread as ONE transferable ArrayBuffer per batch. Posting the
 * records themselves would structured-clone every Buffer with the whole pool slab it lives in (8 KiB for a small key),
 * one by one; packing copies each key and value once into a buffer that moves without a copy, and the receiver reads
 * them back as Buffer views onto it. Each record is packed as its Kafka record body (shared/kafka-record-body.ts: key,
 * value and headers as a record batch holds them), which the receiver hands KafkaJS as the record's `encodedBody`: the
 * sending thread encodes them, so the producing thread only copies them into the batch.
 *
 * Layout (little-endian, every section 4-byte aligned):
 *   u32 magic, u32 record count, u32 table bytes, table (UTF-8 JSON: [topics, header sets]), padding,
 *   per record 5 × u32: topic index, header-set index, key length, value length (NO_VALUE for a tombstone), body length,
 *   then the records' bodies in record order, each its key's varint length and key, its value's varint length (-1 for a
 *   tombstone) and value, then its header set's count and headers.
 * Topics and header sets are tables: records that share a topic string or a (frozen) header object share one entry,
 * and the unpacked records share one frozen header object per entry again, as the encoder made them.
 */

export interface PackedRecords {
  /** Transfer it (postMessage's transfer list): the sender's copy is detached afterwards. */
  readonly buffer: ArrayBuffer;
  readonly count: number;
}

const MAGIC = 0x43_44_43_31; // "CDC1"
const NO_VALUE = 0xffff_ffff;
const PREAMBLE_BYTES = 12;
const ENTRY_WORDS = 5;

const align4 = (bytes: number) => (bytes + 3) & ~3;

type HeaderSet = Readonly<Record<string, string>>;

export function packRecords(records: readonly OutgoingRecord[]): PackedRecords {
  const topics: string[] = [];
  const topicIndex = new Map<string, number>();
  const headerSets: HeaderSet[] = [];
  const headerIndex = new Map<HeaderSet, number>();
  const entries = new Uint32Array(records.length * ENTRY_WORDS);
  const encodedHeaders: Buffer[] = [];
  let dataBytes = 0;
  records.forEach((record, i) => {
    let topic = topicIndex.get(record.topic);
    if (topic === undefined) {
      topic = topics.push(record.topic) - 1;
      topicIndex.set(record.topic, topic);
    }
    // By identity: the encoder shares one frozen object between records; a record with its own headers gets its own.
    let headers = headerIndex.get(record.headers);
    if (headers === undefined) {
      headers = headerSets.push(record.headers) - 1;
      headerIndex.set(record.headers, headers);
      encodedHeaders.push(encodeHeaders(record.headers));
    }
    const bodyBytes = recordBodySize(record.key, record.value, encodedHeaders[headers] as Buffer);
    const at = i * ENTRY_WORDS;
    entries[at] = topic;
    entries[at + 1] = headers;
    entries[at + 2] = record.key.length;
    entries[at + 3] = record.value === null ? NO_VALUE : record.value.length;
    entries[at + 4] = bodyBytes;
    dataBytes += bodyBytes;
  });
  const table = Buffer.from(JSON.stringify([topics, headerSets]));
  const entriesAt = align4(PREAMBLE_BYTES + table.length);
  const dataAt = entriesAt + entries.byteLength;
  // Its own ArrayBuffer, never a slab of Buffer's pool: the whole of it is transferred.
  const buffer = new ArrayBuffer(dataAt + dataBytes);
  const view = new DataView(buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, records.length, true);
  view.setUint32(8, table.length, true);
  const bytes = Buffer.from(buffer);
  table.copy(bytes, PREAMBLE_BYTES);
  for (let i = 0; i < entries.length; i++) view.setUint32(entriesAt + i * 4, entries[i] ?? 0, true);
  let offset = dataAt;
  records.forEach((record, i) => {
    offset = writeRecordBody(bytes, offset, record.key, record.value, encodedHeaders[entries[i * ENTRY_WORDS + 1] as number] as Buffer);
  });
  return { buffer, count: records.length };
}

/** The records packed by `packRecords`; keys, values and bodies are views onto `packed.buffer`, which they keep alive. */
export function unpackRecords(packed: PackedRecords): OutgoingRecord[] {
  const { buffer } = packed;
  const view = new DataView(buffer);
  if (buffer.byteLength < PREAMBLE_BYTES || view.getUint32(0, true) !== MAGIC) throw new Error('not a packed record batch');
  const count = view.getUint32(4, true);
  if (count !== packed.count) throw new Error(`packed record batch holds ${count} records, not ${packed.count}`);
  const tableBytes = view.getUint32(8, true);
  const [topics, headerSets] = JSON.parse(Buffer.from(buffer, PREAMBLE_BYTES, tableBytes).toString('utf8')) as [string[], Record<string, string>[]];
  const frozenHeaders = headerSets.map((headers) => Object.freeze(headers));
  const entriesAt = align4(PREAMBLE_BYTES + tableBytes);
  let offset = entriesAt + count * ENTRY_WORDS * 4;
  const records: OutgoingRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = entriesAt + i * ENTRY_WORDS * 4;
    const topic = topics[view.getUint32(at, true)];
    const headers = frozenHeaders[view.getUint32(at + 4, true)];
    const keyLength = view.getUint32(at + 8, true);
    const valueLength = view.getUint32(at + 12, true);
    const bodyLength = view.getUint32(at + 16, true);
    if (topic === undefined || headers === undefined) throw new Error(`packed record ${i} names a table entry that does not exist`);
    const keyAt = offset + sizeOfVarInt(keyLength);
    const key = Buffer.from(buffer, keyAt, keyLength);
    let value: Buffer | null = null;
    if (valueLength !== NO_VALUE) value = Buffer.from(buffer, keyAt + keyLength + sizeOfVarInt(valueLength), valueLength);
    records[i] = { topic, key, value, headers, encodedBody: Buffer.from(buffer, offset, bodyLength) };
    offset += bodyLength;
  }
  if (offset !== buffer.byteLength) throw new Error('packed record batch has bytes past its last record');
  return records;
}
