import { BSON, type Document, type ResumeToken } from 'mongodb';
import { bsonCstringEnd, bsonValueEnd } from '../../shared/bson-value-end';

/*
 * The few top-level fields of a change event the relay needs, read straight from the event's BSON bytes in one pass
 * over its top-level elements (nested documents are skipped by their length, never walked): where the resume token,
 * namespace and document key are, the operation type and the cluster time. Everything else in the event is only ever
 * copied into the record as text (change-records.ts). It runs once per event, so it allocates nothing but the
 * operation type's name when that is not one of the usual ones.
 */

/** As the change stream's events were always decoded: every value keeps its BSON type (Int32 stays Int32, ...). */
export const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

export const BSON_DOCUMENT = 0x03;
const STRING = 0x02;
const TIMESTAMP = 0x11;
const NULL = 0x0a;
const UNDEFINED = 0x06;

/** An element's BSON type (0 when the event has no such field) and where its value starts and ends. */
export interface ValueAt {
  type: number;
  start: number;
  end: number;
}

const absent = (): ValueAt => ({ type: 0, start: 0, end: 0 });

/** The top-level fields the relay reads, refilled in place for each event (see readEventFields). */
export class EventFields {
  readonly id: ValueAt = absent();
  readonly ns: ValueAt = absent();
  readonly documentKey: ValueAt = absent();
  operationType: string | undefined = undefined;
  /** Whether `clusterTime` is a Timestamp; then `seconds` and `increment` are its parts. */
  hasClusterTime = false;
  seconds = 0;
  increment = 0;
  /** The event has a field the relay's own `_cdc` member would collide with. */
  hasCdc = false;

  clear(): void {
    this.id.type = 0;
    this.ns.type = 0;
    this.documentKey.type = 0;
    this.operationType = undefined;
    this.hasClusterTime = false;
    this.hasCdc = false;
  }
}

/** The event's bytes do not hold together (a length runs past its document, an unknown type). */
export class MalformedEvent extends Error {}

const malformed = (why: string): never => {
  throw new MalformedEvent(why);
};

const int32At = (source: Buffer, position: number): number =>
  (source[position] as number) | ((source[position + 1] as number) << 8) | ((source[position + 2] as number) << 16) | ((source[position + 3] as number) << 24);

/** Where a value of the given type that starts at `position` ends; refuses one that runs past `end`. */
export function valueEnd(source: Buffer, type: number, position: number, end: number): number {
  const after = bsonValueEnd(source, type, position, end);
  return after < 0 ? malformed(`a value of BSON type 0x${type.toString(16)} is unknown or runs past its document`) : after;
}

/** The position after the C string (NUL-terminated) at `position`. */
function cstringEnd(source: Buffer, position: number, end: number): number {
  const after = bsonCstringEnd(source, position, end);
  return after < 0 ? malformed('a key or C string is not terminated') : after;
}

/** Whether the bytes between start and end are the ASCII text `name`. */
function bytesAre(source: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let index = 0; index < name.length; index++) if (source[start + index] !== name.charCodeAt(index)) return false;
  return true;
}

/** The operation types MongoDB sends, by length: an event's name is one of these strings, not a new one each time. */
const OPERATION_NAMES: string[][] = [];
for (const name of [
  'insert',
  'update',
  'replace',
  'delete',
  'drop',
  'rename',
  'dropDatabase',
  'invalidate',
  'create',
  'createIndexes',
  'dropIndexes',
  'modify',
  'shardCollection',
  'reshardCollection',
  'refineCollectionShardKey',
]) {
  const sameLength = OPERATION_NAMES[name.length] ?? [];
  sameLength.push(name);
  OPERATION_NAMES[name.length] = sameLength;
}

function operationTypeAt(source: Buffer, start: number, end: number): string {
  const names = OPERATION_NAMES[end - start];
  if (names) for (const name of names) if (bytesAre(source, start, end, name)) return name;
  return source.toString('utf8', start, end);
}

function place(at: ValueAt, type: number, start: number, end: number): void {
  at.type = type;
  at.start = start;
  at.end = end;
}

/**
 * The top-level fields the relay reads, from the event's bytes, into `into` (one object refilled per event). A field
 * that appears twice (no server sends that) is read as its last value, as deserializing the event would.
 */
export function readEventFields(source: Buffer, into: EventFields = new EventFields()): EventFields {
  into.clear();
  const end = source.length;
  if (end < 5 || int32At(source, 0) !== end || source[end - 1] !== 0) malformed('event length does not match its bytes');
  const last = end - 1;
  let position = 4;
  while (position < last) {
    const type = source[position++] as number;
    const keyStart = position;
    const keyEnd = cstringEnd(source, keyStart, last) - 1;
    const valueStart = keyEnd + 1;
    position = valueEnd(source, type, valueStart, last);
    // Dispatch on the key's length first: only six names matter, and most keys differ in length from all of them.
    switch (keyEnd - keyStart) {
      case 2:
        if (bytesAre(source, keyStart, keyEnd, 'ns')) place(into.ns, type, valueStart, position);
        break;
      case 3:
        if (bytesAre(source, keyStart, keyEnd, '_id')) place(into.id, type, valueStart, position);
        break;
      case 4:
        if (bytesAre(source, keyStart, keyEnd, '_cdc')) into.hasCdc = true;
        break;
      case 11:
        if (bytesAre(source, keyStart, keyEnd, 'clusterTime')) {
          into.hasClusterTime = type === TIMESTAMP;
          if (type === TIMESTAMP) {
            into.increment = int32At(source, valueStart) >>> 0;
            into.seconds = int32At(source, valueStart + 4) >>> 0;
          }
        } else if (bytesAre(source, keyStart, keyEnd, 'documentKey')) {
          place(into.documentKey, type, valueStart, position);
        }
        break;
      case 13:
        if (bytesAre(source, keyStart, keyEnd, 'operationType')) {
          into.operationType = type === STRING ? operationTypeAt(source, valueStart + 4, position - 1) : undefined;
        }
        break;
      default:
        break;
    }
  }
  if (position !== last) malformed('event length does not match its elements');
  return into;
}

/** The namespace `{ db, coll? }` when `ns` is a document of a string `db` and at most a string `coll`, else undefined. */
export function plainNamespace(source: Buffer, ns: ValueAt): { db: string; coll?: string } | undefined {
  if (ns.type !== BSON_DOCUMENT) return undefined;
  let db: string | undefined;
  let coll: string | undefined;
  let position = ns.start + 4;
  const end = ns.end - 1;
  while (position < end) {
    const type = source[position++] as number;
    const keyStart = position;
    const keyEnd = cstringEnd(source, keyStart, end) - 1;
    const valueStart = keyEnd + 1;
    position = valueEnd(source, type, valueStart, end);
    if (type !== STRING) return undefined;
    const text = source.toString('utf8', valueStart + 4, position - 1);
    if (bytesAre(source, keyStart, keyEnd, 'db') && db === undefined) db = text;
    else if (bytesAre(source, keyStart, keyEnd, 'coll') && coll === undefined) coll = text;
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
export function eventToken(source: Buffer): ResumeToken | undefined {
  const { id } = readEventFields(source);
  if (id.type === 0 || id.type === NULL || id.type === UNDEFINED) return undefined;
  if (id.type === BSON_DOCUMENT) return BSON.deserialize(source.subarray(id.start, id.end), RAW_VALUES) as ResumeToken;
  return decodeChangeEvent(source)._id as ResumeToken;
}
