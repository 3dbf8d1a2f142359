import { isUtf8 } from 'node:buffer';
import { BSON } from 'mongodb';
import { stringifyCanonical } from './canonical-json';
import { bsonValueEnd } from './bson-value-end';

/*
 * Canonical Extended JSON written straight from a document's BSON bytes, in one pass, with no JavaScript object per
 * value: the snapshot reads raw documents and this turns each into its record's text. The output is byte for byte what
 * stringifyCanonical(BSON.deserialize(bytes, { promoteValues: false, promoteLongs: false, promoteBuffers: false,
 * bsonRegExp: true })) writes, which the property tests hold it to. Where the object path would do something a byte
 * copy cannot (reorder integer-like keys as JavaScript objects do, merge duplicate keys, read a `$ref`/`$id` document
 * as a DBRef, replace invalid UTF-8 in a key), the writer refuses the document (`NeedsObjectPath`) and the caller uses
 * the object path. Rare value types (binary, Decimal128, regular expressions, code, symbols, keys, dates outside
 * JavaScript's range) are written by the object path one value at a time.
 */

/** The document must go through BSON.deserialize and stringifyCanonical to come out exactly as before. */
export class NeedsObjectPath extends Error {}

const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DOLLAR = 0x24;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** JSON.stringify's short escapes; every other byte below 0x20 becomes \u00xx. */
const SHORT_ESCAPES = new Uint8Array(0x60);
for (const [byte, letter] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [QUOTE, '"'],
  [BACKSLASH, '\\'],
] as const) {
  SHORT_ESCAPES[byte] = letter.charCodeAt(0);
}
/** Dates bson turns into a valid JavaScript Date (whose getTime() is the stored value); others become Invalid Date. */
const MAX_DATE_MS = 8.64e15;
const TWO_32 = 2 ** 32;
/** Strings at least this long are scanned a 32-bit word at a time (little-endian or not, each test is per byte). */
const SWAR_MIN_LENGTH = 24;
/** Objects with more keys than this check duplicates through a Set instead of comparing every pair. */
const PAIRWISE_KEYS = 32;

const ascii = (text: string) => Buffer.from(text, 'latin1');
const TEXT = {
  true: ascii('true'),
  false: ascii('false'),
  null: ascii('null'),
  numberInt: ascii('{"$numberInt":"'),
  numberLong: ascii('{"$numberLong":"'),
  numberDouble: ascii('{"$numberDouble":"'),
  oid: ascii('{"$oid":"'),
  date: ascii('{"$date":{"$numberLong":"'),
  timestamp: ascii('{"$timestamp":{"t":'),
  timestampI: ascii(',"i":'),
} as const;

/** bson's canonical Double text (see canonical-json.ts doubleJson). */
function doubleText(value: number): string {
  if (Object.is(Math.sign(value), -0)) return '-0.0';
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** A key JavaScript would move to the front of an object: a canonical array index (0 to 2^32 - 2). */
function isArrayIndexKey(source: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0 || length > 10) return false;
  const first = source[start] as number;
  if (first < DIGIT_0 || first > DIGIT_9 || (first === DIGIT_0 && length > 1)) return false;
  let value = 0;
  for (let index = start; index < end; index++) {
    const byte = source[index] as number;
    if (byte < DIGIT_0 || byte > DIGIT_9) return false;
    value = value * 10 + (byte - DIGIT_0);
  }
  return value < TWO_32 - 1;
}

export class BsonCanonicalJsonWriter {
  private out: Buffer;
  /** Where the text being written starts: `take` hands out out[start, at), and the next text is written after it. */
  private start = 0;
  private at = 0;
  private wordsBuffer: ArrayBufferLike | undefined;
  private words: Int32Array | undefined;

  /** `slabBytes`: the memory taken at a time; each text taken is a slice of it, so no text is copied again. */
  constructor(private readonly slabBytes = 64 * 1024) {
    this.out = Buffer.allocUnsafe(slabBytes);
  }

  /** Bytes written since the last `take`. */
  get length(): number {
    return this.at - this.start;
  }

  /**
   * What was written since the last `take`, which starts over: a slice of the writer's memory that no later write
   * touches (the next text goes after it, or into new memory).
   */
  take(): Buffer {
    const bytes = this.out.subarray(this.start, this.at);
    this.start = this.at;
    return bytes;
  }

  /** Drops what was written since the last `take` (a refused document). */
  discard(): void {
    this.at = this.start;
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.out.length) return;
    // New memory for the text being written (what was taken before stays where it is, with whoever holds it).
    const written = this.at - this.start;
    let size = this.slabBytes;
    while (size < 2 * (written + bytes)) size *= 2;
    const slab = Buffer.allocUnsafe(size);
    this.out.copy(slab, 0, this.start, this.at);
    this.out = slab;
    this.start = 0;
    this.at = written;
  }

  /** Appends bytes that are already JSON text (the fixed parts of a record). */
  raw(bytes: Buffer): void {
    this.copy(bytes, 0, bytes.length);
  }

  private byte(value: number): void {
    this.ensure(1);
    this.out[this.at++] = value;
  }

  /** A safe integer in decimal, as String(value) writes it. */
  private integer(value: number): void {
    this.ensure(17);
    if (value < 0) {
      this.out[this.at++] = 0x2d;
      value = -value;
    }
    let digits = 1;
    for (let power = 10; power <= value; power *= 10) digits++;
    let position = this.at + digits;
    this.at = position;
    do {
      const next = Math.floor(value / 10);
      this.out[--position] = DIGIT_0 + (value - next * 10);
      value = next;
    } while (value > 0);
  }

  private asciiText(text: string): void {
    this.ensure(text.length);
    for (let index = 0; index < text.length; index++) this.out[this.at++] = text.charCodeAt(index);
  }

  /** A JSON string from UTF-8 bytes, escaped as JSON.stringify escapes; invalid UTF-8 refuses the document. */
  private string(source: Buffer, start: number, end: number): void {
    this.ensure(end - start + 2);
    this.out[this.at++] = QUOTE;
    let copyFrom = start;
    let nonAscii = false;
    // Long strings are scanned four bytes at a time where they are aligned (SWAR_MIN_LENGTH).
    const words = end - start >= SWAR_MIN_LENGTH ? this.wordsOf(source) : undefined;
    const offset = source.byteOffset;
    for (let index = start; index < end; index++) {
      if (words !== undefined && ((offset + index) & 3) === 0) {
        // Whole words with no byte below 0x20, no quote and no backslash pass at once; a word with one of those (or
        // the string's last bytes) goes byte by byte below. Each test is exact about whether such a byte is there.
        while (index + 4 <= end) {
          const word = words[(offset + index) >> 2] as number;
          const quote = word ^ 0x2222_2222;
          const backslash = word ^ 0x5c5c_5c5c;
          if ((((word - 0x2020_2020) & ~word) | ((quote - 0x0101_0101) & ~quote) | ((backslash - 0x0101_0101) & ~backslash)) & 0x8080_8080) break;
          if (word & 0x8080_8080) nonAscii = true;
          index += 4;
        }
        if (index >= end) break;
      }
      const byte = source[index] as number;
      if (byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH) {
        if (byte >= 0x80) nonAscii = true;
        continue;
      }
      this.copy(source, copyFrom, index);
      copyFrom = index + 1;
      this.ensure(6);
      this.out[this.at++] = BACKSLASH;
      const short = SHORT_ESCAPES[byte] as number;
      if (short !== 0) {
        this.out[this.at++] = short;
      } else {
        this.out[this.at++] = 0x75;
        this.out[this.at++] = DIGIT_0;
        this.out[this.at++] = DIGIT_0;
        this.out[this.at++] = HEX[byte >> 4] as number;
        this.out[this.at++] = HEX[byte & 0xf] as number;
      }
    }
    if (nonAscii && !isUtf8(source.subarray(start, end))) throw new NeedsObjectPath('a string or key is not valid UTF-8');
    this.copy(source, copyFrom, end);
    this.ensure(1);
    this.out[this.at++] = QUOTE;
  }

  /** The bytes of the source's memory as 32-bit words (from its start, so aligned), kept while the source is the same. */
  private wordsOf(source: Buffer): Int32Array {
    if (source.buffer !== this.wordsBuffer) {
      this.wordsBuffer = source.buffer;
      this.words = new Int32Array(source.buffer, 0, source.buffer.byteLength >> 2);
    }
    return this.words as Int32Array;
  }

  private copy(source: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length <= 0) return;
    this.ensure(length);
    if (length < 16) {
      for (let index = start; index < end; index++) this.out[this.at++] = source[index] as number;
    } else {
      source.copy(this.out, this.at, start, end);
      this.at += length;
    }
  }

  /** The document (or array) whose size prefix is at `start`, as canonical Extended JSON. Returns its end. */
  document(source: Buffer, start: number, isArray = false): number {
    if (start + 5 > source.length) throw new NeedsObjectPath('truncated document');
    const end = start + source.readInt32LE(start);
    if (end < start + 5 || end > source.length || source[end - 1] !== 0) throw new NeedsObjectPath('corrupt document length');
    let position = start + 4;
    this.byte(isArray ? 0x5b : 0x7b);
    let first = true;
    let keyHashes: number[] | undefined;
    let keySet: Set<number> | undefined;
    for (;;) {
      if (position >= end) throw new NeedsObjectPath('document not terminated');
      const type = source[position++] as number;
      if (type === 0) break;
      const keyStart = position;
      let hash = 0x811c9dc5;
      while (position < end && source[position] !== 0) {
        hash = Math.imul(hash ^ (source[position] as number), 0x01000193);
        position++;
      }
      if (position >= end) throw new NeedsObjectPath('key not terminated');
      const keyEnd = position++;
      if (!first) this.byte(0x2c);
      first = false;
      if (!isArray) {
        // `$` keys (DBRefs, type-wrapper look-alikes) and integer-like keys (which JavaScript objects reorder) keep
        // the object path's exact behaviour; so do duplicate keys (an object keeps one). Hash collisions only cost
        // the slower path.
        if (source[keyStart] === DOLLAR) throw new NeedsObjectPath('a key starts with $');
        if (isArrayIndexKey(source, keyStart, keyEnd)) throw new NeedsObjectPath('an integer-like key');
        if (keySet) {
          if (keySet.has(hash)) throw new NeedsObjectPath('a repeated key');
          keySet.add(hash);
        } else {
          keyHashes ??= [];
          if (keyHashes.includes(hash)) throw new NeedsObjectPath('a repeated key');
          keyHashes.push(hash);
          if (keyHashes.length > PAIRWISE_KEYS) keySet = new Set(keyHashes);
        }
        this.string(source, keyStart, keyEnd);
        this.byte(0x3a);
      }
      position = this.value(source, type, position, end, keyStart - 1);
    }
    if (position !== end) throw new NeedsObjectPath('document length does not match its elements');
    this.byte(isArray ? 0x5d : 0x7d);
    return end;
  }

  /**
   * The document at `start` as `document` writes it, but without its closing brace, so the caller can append members
   * (a change record's `_cdc`) and close it. Returns whether the document had any field (then a member needs a comma).
   */
  documentOpen(source: Buffer, start: number): boolean {
    const before = this.length;
    this.document(source, start, false);
    this.at--;
    return this.length - before > 1;
  }

  /**
   * The value of the document's `_id` element (MongoDB keeps it first; some servers keep it where it was inserted), as
   * canonical Extended JSON; refuses a document without one.
   */
  id(source: Buffer): void {
    if (source.length < 5) throw new NeedsObjectPath('truncated document');
    const end = source.length;
    let position = 4;
    while (position < end - 1) {
      const elementStart = position;
      const type = source[position++] as number;
      const keyStart = position;
      while (position < end && source[position] !== 0) position++;
      const isId = position - keyStart === 3 && source[keyStart] === 0x5f && source[keyStart + 1] === 0x69 && source[keyStart + 2] === 0x64;
      position++;
      if (isId) {
        this.value(source, type, position, end, elementStart);
        return;
      }
      position = this.skip(source, type, position, end);
    }
    throw new NeedsObjectPath('no _id');
  }

  /** One value of the given type at `position`; returns the position after it. */
  private value(source: Buffer, type: number, position: number, end: number, elementStart: number): number {
    switch (type) {
      case 0x01: {
        // Double
        this.need(position + 8, end);
        this.raw(TEXT.numberDouble);
        this.asciiText(doubleText(source.readDoubleLE(position)));
        this.raw(CLOSE_QUOTED);
        return position + 8;
      }
      case 0x02: {
        // String: int32 length (with its NUL), bytes, NUL
        this.need(position + 4, end);
        const length = source.readInt32LE(position);
        const stringEnd = position + 4 + length;
        if (length < 1 || stringEnd > end || source[stringEnd - 1] !== 0) throw new NeedsObjectPath('bad string length');
        this.string(source, position + 4, stringEnd - 1);
        return stringEnd;
      }
      case 0x03:
        return this.document(source, position, false);
      case 0x04:
        return this.document(source, position, true);
      case 0x07: {
        // ObjectId
        this.need(position + 12, end);
        this.raw(TEXT.oid);
        this.ensure(24);
        for (let index = position; index < position + 12; index++) {
          const byte = source[index] as number;
          this.out[this.at++] = HEX[byte >> 4] as number;
          this.out[this.at++] = HEX[byte & 0xf] as number;
        }
        this.raw(CLOSE_QUOTED);
        return position + 12;
      }
      case 0x08: {
        this.need(position + 1, end);
        const flag = source[position];
        if (flag !== 0 && flag !== 1) throw new NeedsObjectPath('bad boolean');
        this.raw(flag === 1 ? TEXT.true : TEXT.false);
        return position + 1;
      }
      case 0x09: {
        // UTC datetime: int64 milliseconds
        this.need(position + 8, end);
        const ms = this.int64(source, position);
        if (ms === undefined || Math.abs(ms) > MAX_DATE_MS) return this.viaObjects(source, elementStart, position + 8);
        this.raw(TEXT.date);
        this.integer(ms);
        this.raw(CLOSE_QUOTED_TWICE);
        return position + 8;
      }
      case 0x0a:
        this.raw(TEXT.null);
        return position;
      case 0x10: {
        this.need(position + 4, end);
        this.raw(TEXT.numberInt);
        this.integer(source.readInt32LE(position));
        this.raw(CLOSE_QUOTED);
        return position + 4;
      }
      case 0x11: {
        // Timestamp: increment (low 32 bits), then seconds (high 32 bits)
        this.need(position + 8, end);
        this.raw(TEXT.timestamp);
        this.integer(source.readUInt32LE(position + 4));
        this.raw(TEXT.timestampI);
        this.integer(source.readUInt32LE(position));
        this.raw(CLOSE_TWICE);
        return position + 8;
      }
      case 0x12: {
        this.need(position + 8, end);
        this.raw(TEXT.numberLong);
        const value = this.int64(source, position);
        if (value === undefined) this.asciiText(source.readBigInt64LE(position).toString());
        else this.integer(value);
        this.raw(CLOSE_QUOTED);
        return position + 8;
      }
      default:
        return this.viaObjects(source, elementStart, this.skip(source, type, position, end));
    }
  }

  /** An int64 as a number when it is a safe integer, else undefined. */
  private int64(source: Buffer, position: number): number | undefined {
    const low = source.readUInt32LE(position);
    const high = source.readInt32LE(position + 4);
    if (high >= -0x20_0000 && high < 0x20_0000) return high * TWO_32 + low;
    return undefined;
  }

  private need(after: number, end: number): void {
    if (after > end) throw new NeedsObjectPath('value runs past its document');
  }

  /** Where a value of the given type ends. */
  private skip(source: Buffer, type: number, position: number, end: number): number {
    const after = bsonValueEnd(source, type, position, end);
    if (after < 0) throw new NeedsObjectPath(`a value of BSON type 0x${type.toString(16)} is unknown or runs past its document`);
    return after;
  }

  /**
   * One element written by the object path: the element's bytes wrapped into a one-field document, deserialized as
   * the snapshot always did, and written by stringifyCanonical (which leaves these types to bson).
   */
  private viaObjects(source: Buffer, elementStart: number, elementEnd: number): number {
    const keyEnd = source.indexOf(0, elementStart + 1);
    const valueBytes = elementEnd - keyEnd - 1;
    const single = Buffer.allocUnsafe(4 + 1 + 2 + valueBytes + 1);
    single.writeInt32LE(single.length, 0);
    single[4] = source[elementStart] as number;
    single[5] = 0x76; // key "v"
    single[6] = 0;
    source.copy(single, 7, keyEnd + 1, elementEnd);
    single[single.length - 1] = 0;
    const value = (BSON.deserialize(single, RAW_VALUES) as { v: unknown }).v;
    this.asciiOrUtf8(stringifyCanonical(value));
    return elementEnd;
  }

  private asciiOrUtf8(text: string): void {
    const bytes = Buffer.byteLength(text, 'utf8');
    this.ensure(bytes);
    this.out.write(text, this.at, 'utf8');
    this.at += bytes;
  }
}

const CLOSE_QUOTED = ascii('"}');
const CLOSE_QUOTED_TWICE = ascii('"}}');
const CLOSE_TWICE = ascii('}}');

