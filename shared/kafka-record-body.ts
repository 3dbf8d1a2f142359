/*
 * A Kafka record's body as it sits in a record batch (magic 2) after the record's per-batch prefix (length, attributes,
 * timestamp delta, offset delta): key, value and headers, each length a zigzag varint, a missing key or value length -1.
 * The very bytes KafkaJS's record encoder writes for them; the patched KafkaJS (patches/kafkajs+2.2.4.patch) copies a
 * message's `encodedBody` instead of encoding its key, value and headers again. So a thread that holds a record's
 * bytes anyway (the snapshot's reading thread) can write them in this form and spare the producing thread that work.
 */

/** Bytes of an int32 as a zigzag varint. */
export function sizeOfVarInt(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag >>>= 7;
    bytes++;
  }
  return bytes;
}

/** Writes an int32 as a zigzag varint at `offset`; returns the offset after it. */
export function writeVarInt(target: Uint8Array, offset: number, value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let at = offset;
  while (zigzag >= 0x80) {
    target[at++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  target[at++] = zigzag;
  return at;
}

const sizeOfBytes = (bytes: Uint8Array | null) => (bytes === null ? sizeOfVarInt(-1) : sizeOfVarInt(bytes.length) + bytes.length);

function writeBytes(target: Uint8Array, offset: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarInt(target, offset, -1);
  const at = writeVarInt(target, offset, bytes.length);
  target.set(bytes, at);
  return at + bytes.length;
}

/** A record's headers in body form (count, then each name and value), encoded once for all records that share them. */
export function encodeHeaders(headers: Readonly<Record<string, string>>): Buffer {
  const entries = Object.entries(headers).map(([name, value]) => [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')] as const);
  let size = sizeOfVarInt(entries.length);
  for (const [name, value] of entries) size += sizeOfBytes(name) + sizeOfBytes(value);
  const encoded = Buffer.allocUnsafe(size);
  let offset = writeVarInt(encoded, 0, entries.length);
  for (const [name, value] of entries) offset = writeBytes(encoded, writeBytes(encoded, offset, name), value);
  return encoded;
}

/** Bytes of a record's body with these key and value and its headers already encoded (`encodeHeaders`). */
export function recordBodySize(key: Uint8Array | null, value: Uint8Array | null, encodedHeaders: Uint8Array): number {
  return sizeOfBytes(key) + sizeOfBytes(value) + encodedHeaders.length;
}

/** Writes a record's body at `offset` (room for `recordBodySize` bytes); returns the offset after it. */
export function writeRecordBody(target: Uint8Array, offset: number, key: Uint8Array | null, value: Uint8Array | null, encodedHeaders: Uint8Array): number {
  const at = writeBytes(target, writeBytes(target, offset, key), value);
  target.set(encodedHeaders, at);
  return at + encodedHeaders.length;
}
