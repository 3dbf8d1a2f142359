import { BSON, type Document, type ResumeToken } from 'mongodb';

/*
 * The few top-level fields of a change event the relay needs, read straight from the event's BSON bytes in one pass
 * over its top-level elements (nested documents are skipped by their length, never walked): where the resume token,
 * namespace and document key are, the operation type and the cluster time. Everything else in the event is only ever
 * copied into the record as text (change-records.ts).
 */

/** As the change stream's events were always decoded: every value keeps its BSON type (Int32 stays Int32, ...). */
export const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

const DOCUMENT = 0x03;
const STRING = 0x02;
const TIMESTAMP = 0x11;

/** Where one top-level element's value sits in the event: its BSON type and the value's first byte and end. */
export interface ValueAt {
  readonly type: number;
  readonly start: number;
  readonly end: number;
}

export interface EventFields {
  readonly id?: ValueAt;
  readonly operationType?: string;
  /** The cluster time's seconds and increment, when it is a Timestamp. */
  readonly clusterTime?: { readonly t: number; readonly i: number };
  readonly ns?: ValueAt;
  readonly documentKey?: ValueAt;
  /** The event has a field the relay's own `_cdc` member would collide with. */
  readonly hasCdc: boolean;
}

/** The event's bytes do not hold together (a length runs past its document, an unknown type). */
export class MalformedEvent extends Error {}

const malformed = (why: string): never => {
  throw new MalformedEvent(why);
};

/** Where a value of the given type that starts at `position` ends; refuses one that runs past `end`. */
export function valueEnd(source: Buffer, type: number, position: number, end: number): number {
  let after: number;
  switch (type) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      after = position + 8;
      break;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      after = position + 4 + int32At(source, position, end);
      break;
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      after = position + int32At(source, position, end);
      break;
    case 0x05: // binary: int32 length, subtype, bytes
      after = position + 5 + int32At(source, position, end);
      break;
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // MaxKey
    case 0xff: // MinKey
      after = position;
      break;
    case 0x07: // ObjectId
      after = position + 12;
      break;
    case 0x08: // boolean
      after = position + 1;
      break;
    case 0x0b: {
      // regular expression: pattern and options, both C strings
      const patternEnd = source.indexOf(0, position);
      const optionsEnd = patternEnd < 0 ? -1 : source.indexOf(0, patternEnd + 1);
      after = optionsEnd < 0 ? end + 1 : optionsEnd + 1;
      break;
    }
    case 0x0c: // DBPointer: string, then a 12-byte ObjectId
      after = position + 4 + int32At(source, position, end) + 12;
      break;
    case 0x10: // int32
      after = position + 4;
      break;
    case 0x13: // Decimal128
      after = position + 16;
      break;
    default:
      return malformed(`unknown BSON type 0x${type.toString(16)}`);
  }
  if (after > end || after < position) malformed('a value runs past its document');
  return after;
}

function int32At(source: Buffer, position: number, end: number): number {
  if (position + 4 > end) malformed('a length runs past its document');
  return source.readInt32LE(position);
}

/** Whether the key between start and end is the ASCII text `name`. */
function keyIs(source: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let index = 0; index < name.length; index++) if (source[start + index] !== name.charCodeAt(index)) return false;
  return true;
}

/**
 * The top-level fields the relay reads, from the event's bytes. A field that appears twice (no server sends that) is
 * left for the object path: its later value would win there.
 */
export function readEventFields(source: Buffer): EventFields {
  if (source.length < 5) malformed('truncated event');
  const end = source.readInt32LE(0);
  if (end !== source.length || source[end - 1] !== 0) malformed('event length does not match its bytes');
  let id: ValueAt | undefined;
  let operationType: string | undefined;
  let clusterTime: { t: number; i: number } | undefined;
  let ns: ValueAt | undefined;
  let documentKey: ValueAt | undefined;
  let hasCdc = false;
  let position = 4;
  while (position < end - 1) {
    const type = source[position++] as number;
    const keyStart = position;
    const keyEnd = source.indexOf(0, keyStart);
    if (keyEnd < 0 || keyEnd >= end) malformed('key not terminated');
    position = keyEnd + 1;
    const valueStart = position;
    position = valueEnd(source, type, valueStart, end - 1);
    // Dispatch on the key's length first: only five names matter, and most keys differ in length from all of them.
    switch (keyEnd - keyStart) {
      case 2:
        if (keyIs(source, keyStart, keyEnd, 'ns')) ns = { type, start: valueStart, end: position };
        break;
      case 3:
        if (keyIs(source, keyStart, keyEnd, '_id')) id = { type, start: valueStart, end: position };
        break;
      case 4:
        if (keyIs(source, keyStart, keyEnd, '_cdc')) hasCdc = true;
        break;
      case 11:
        if (keyIs(source, keyStart, keyEnd, 'clusterTime')) {
          clusterTime = type === TIMESTAMP ? { t: source.readUInt32LE(valueStart + 4), i: source.readUInt32LE(valueStart) } : undefined;
        } else if (keyIs(source, keyStart, keyEnd, 'documentKey')) {
          documentKey = { type, start: valueStart, end: position };
        }
        break;
      case 13:
        if (keyIs(source, keyStart, keyEnd, 'operationType')) {
          operationType = type === STRING ? source.toString('utf8', valueStart + 4, position - 1) : undefined;
        }
        break;
      default:
        break;
    }
  }
  if (position !== end - 1) malformed('event length does not match its elements');
  return {
    ...(id ? { id } : {}),
    ...(operationType !== undefined ? { operationType } : {}),
    ...(clusterTime ? { clusterTime } : {}),
    ...(ns ? { ns } : {}),
    ...(documentKey ? { documentKey } : {}),
    hasCdc,
  };
}

/** The namespace `{ db, coll? }` when `ns` is a document of a string `db` and at most a string `coll`, else undefined. */
export function plainNamespace(source: Buffer, ns: ValueAt): { db: string; coll?: string } | undefined {
  if (ns.type !== DOCUMENT) return undefined;
  let db: string | undefined;
  let coll: string | undefined;
  let position = ns.start + 4;
  const end = ns.end - 1;
  while (position < end) {
    const type = source[position++] as number;
    const keyStart = position;
    const keyEnd = source.indexOf(0, keyStart);
    if (keyEnd < 0 || keyEnd >= end) return undefined;
    position = keyEnd + 1;
    const valueStart = position;
    position = valueEnd(source, type, valueStart, end);
    if (type !== STRING) return undefined;
    const text = source.toString('utf8', valueStart + 4, position - 1);
    if (keyIs(source, keyStart, keyEnd, 'db') && db === undefined) db = text;
    else if (keyIs(source, keyStart, keyEnd, 'coll') && coll === undefined) coll = text;
    else return undefined;
  }
  if (db === undefined) return undefined;
  return coll === undefined ? { db } : { db, coll };
}

/** The event decoded as the driver's change stream decoded it. */
export function decodeChangeEvent(source: Buffer): Document {
  return BSON.deserialize(source, RAW_VALUES);
}

/** The event's resume token (its `_id`), decoded as the driver decoded it; undefined when it has none. */
export function eventToken(source: Buffer, fields: EventFields = readEventFields(source)): ResumeToken | undefined {
  const id = fields.id;
  if (!id || id.type === 0x0a || id.type === 0x06) return undefined;
  if (id.type === DOCUMENT) return BSON.deserialize(source.subarray(id.start, id.end), RAW_VALUES) as ResumeToken;
  return decodeChangeEvent(source)._id as ResumeToken;
}
