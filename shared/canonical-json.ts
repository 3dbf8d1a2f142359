import { BSON, type Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { bsonTypeOf } from './bson-value';

/*
 * Canonical Extended JSON, the record format's encoding, at close to the speed of JSON.parse and JSON.stringify.
 * bson's EJSON walks every value through generic JavaScript (a reviver when parsing; cycle tracking and per-type
 * objects when writing), which was most of the relay's and the sinks' CPU per record. Here the shapes change events
 * are made of are handled directly, with the very formats bson uses, and everything else goes to bson itself; the
 * unit tests hold both directions to bson's output byte for byte.
 */

const CANONICAL = { relaxed: false } as const;
const DOLLAR = 0x24;

/**
 * Canonical Extended JSON text to BSON values, exactly as BSON.EJSON.parse(text, { relaxed: false }) gives them, at
 * about the speed of JSON.parse: the plain parts (objects without "$" keys, arrays, strings, booleans, null) are
 * kept as parsed, and only type wrappers and bare numbers go through the bson library. EJSON.parse runs a JavaScript
 * reviver on every value, which was most of a sink's CPU per record.
 */
export function parseCanonical(text: string): unknown {
  return revive(JSON.parse(text));
}

/**
 * The wrappers nearly every document holds, built with the very expressions bson's fromExtendedJSON uses in canonical
 * mode (Int32, Double, ObjectId), without a round trip through its reviver. Anything else returns undefined.
 */
function commonWrapper(record: Record<string, unknown>): unknown {
  let only: string | undefined;
  for (const key in record) {
    if (only !== undefined) return undefined;
    only = key;
  }
  const inner = only === undefined ? undefined : record[only];
  // Every change event's clusterTime. bson would stringify and re-parse the wrapper (EJSON.deserialize).
  if (only === '$timestamp') return timestampOf(inner);
  if (typeof inner !== 'string') return undefined;
  switch (only) {
    case '$numberInt':
      return new Int32(inner);
    case '$numberDouble':
      return new Double(Number.parseFloat(inner));
    case '$oid':
      return new ObjectId(inner);
    default:
      return undefined;
  }
}

const UINT32_MAX = 0xffff_ffff;
const isUint32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= UINT32_MAX && !Object.is(value, -0);

/**
 * `{"t": n, "i": n}` with both parts whole numbers from 0 to 2^32 - 1 and nothing else: the Timestamp bson builds from
 * it. Any other shape (extra keys, out-of-range or fractional parts, which bson refuses or reads differently) is left
 * to bson.
 */
function timestampOf(inner: unknown): Timestamp | undefined {
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return undefined;
  let keys = 0;
  for (const _ in inner) keys++;
  const { t, i } = inner as { t?: unknown; i?: unknown };
  if (keys !== 2 || !isUint32(t) || !isUint32(i)) return undefined;
  return new Timestamp({ t, i });
}

const INT32_MAX = 0x7fff_ffff;
const INT64_LIMIT = 2 ** 63;

/** A number without a wrapper, typed as bson's canonical reviver types it: Int32, then Int64, else Double (-0 too). */
function bareNumber(value: number): Int32 | Long | Double {
  if (Number.isInteger(value) && !Object.is(value, -0)) {
    if (value <= INT32_MAX && value >= -INT32_MAX - 1) return new Int32(value);
    if (value <= INT64_LIMIT && value >= -INT64_LIMIT) return Long.fromNumber(value);
  }
  return new Double(value);
}

function revive(value: unknown): unknown {
  if (typeof value === 'number') return bareNumber(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = revive(value[index]);
    return value;
  }
  const record = value as Record<string, unknown>;
  const fast = commonWrapper(record);
  if (fast !== undefined) return fast;
  // A "$" key marks a type wrapper (or a user field bson leaves alone): bson decides for the whole subtree.
  for (const key in record) if (key.charCodeAt(0) === DOLLAR) return BSON.EJSON.deserialize(record, CANONICAL);
  for (const key in record) {
    if (key.includes('\u0000')) throw new BSON.BSONError(`BSON Document field names cannot contain null bytes, found: ${JSON.stringify(key)}`);
    const child = record[key];
    const revived = revive(child);
    if (revived === child) continue;
    // Plain assignment is several times cheaper; only a field named "__proto__" needs defineProperty to stay a field.
    if (key === '__proto__') Object.defineProperty(record, key, { value: revived, writable: true, enumerable: true, configurable: true });
    else record[key] = revived;
  }
  return record;
}

class NotFastPath extends Error {}

function numberJson(value: number): string {
  if (Number.isInteger(value) && !Object.is(value, -0)) {
    if (value <= INT32_MAX && value >= -INT32_MAX - 1) return `{"$numberInt":"${value}"}`;
    if (value <= INT64_LIMIT && value >= -INT64_LIMIT) return `{"$numberLong":"${value}"}`;
  }
  return `{"$numberDouble":"${Object.is(value, -0) ? '-0.0' : String(value)}"}`;
}

function doubleJson(value: number): string {
  if (Object.is(Math.sign(value), -0)) return '{"$numberDouble":"-0.0"}';
  return `{"$numberDouble":"${Number.isInteger(value) ? value.toFixed(1) : String(value)}"}`;
}

function writeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return numberJson(value);
    case 'undefined':
      // bson writes an undefined field as null rather than leaving it out.
      return 'null';
    case 'object':
      return value === null ? 'null' : writeObject(value);
    default:
      throw new NotFastPath();
  }
}

function writeObject(value: object): string {
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index++) text += (index === 0 ? '' : ',') + writeValue(value[index]);
    return `${text}]`;
  }
  if (value instanceof Date) return `{"$date":{"$numberLong":"${value.getTime()}"}}`;
  const bsonType = bsonTypeOf(value);
  if (bsonType !== undefined) {
    switch (bsonType) {
      case 'Int32':
        return `{"$numberInt":"${(value as Int32).value}"}`;
      case 'Double':
        return doubleJson((value as Double).value);
      case 'Long':
        return `{"$numberLong":"${(value as Long).toString()}"}`;
      case 'ObjectId':
        return `{"$oid":"${(value as ObjectId).toHexString()}"}`;
      case 'Timestamp':
        return `{"$timestamp":{"t":${(value as Timestamp).t},"i":${(value as Timestamp).i}}}`;
      case 'Decimal128':
        return `{"$numberDecimal":"${(value as Decimal128).toString()}"}`;
      default:
        // Binaries, regular expressions, keys, code and the rest: rare enough to leave to bson, which owns their formats.
        return BSON.EJSON.stringify(value, CANONICAL);
    }
  }
  return `${writeFields(value)}}`;
}

/** A plain object's opening brace and fields, without the closing brace. */
function writeFields(value: object): string {
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw new NotFastPath();
  let text = '{';
  let first = true;
  for (const key of Object.keys(value)) {
    text += `${first ? '' : ','}${JSON.stringify(key)}:${writeValue((value as Record<string, unknown>)[key])}`;
    first = false;
  }
  return text;
}

/** What BSON.EJSON.stringify(value, { relaxed: false }) writes, byte for byte. */
export function stringifyCanonical(value: unknown): string {
  try {
    return writeValue(value);
  } catch (error) {
    // Maps, regular expressions, functions, class instances, cycles: bson decides (and names the problem).
    if (error instanceof NotFastPath || error instanceof RangeError) return BSON.EJSON.stringify(value, CANONICAL);
    throw error;
  }
}

/**
 * stringifyCanonical({ ...document, [name]: member }), byte for byte, without copying the document: the relay appends
 * its `_cdc` metadata to every change event this way.
 */
export function stringifyCanonicalWithMember(document: Record<string, unknown>, name: string, member: unknown): string {
  // A document that already has the field keeps it in its place, as the spread would: leave that to the general path.
  if (Object.hasOwn(document, name)) return stringifyCanonical({ ...document, [name]: member });
  try {
    const fields = writeFields(document);
    return `${fields}${fields.length > 1 ? ',' : ''}${JSON.stringify(name)}:${writeValue(member)}}`;
  } catch (error) {
    if (error instanceof NotFastPath || error instanceof RangeError) return BSON.EJSON.stringify({ ...document, [name]: member }, CANONICAL);
    throw error;
  }
}
