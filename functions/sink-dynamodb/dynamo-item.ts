import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Document } from 'mongodb';
import { CdcError } from '../../shared/errors';
import { bsonTypeOf } from '../../shared/bson-value';
import { stringifyCanonical } from '../../shared/canonical-json';

/*
 * How a MongoDB document becomes a DynamoDB item (values exact; documented in docs/operations.md):
 *   string → S; boolean → BOOL; null → NULL; embedded document → M; array → L
 *   Int32, Int64, Double, Decimal128 → N when DynamoDB can hold the value exactly (38 digits, 1E-130..1E+126);
 *     otherwise (NaN, ±Infinity, -0, out of range) → M {"$numberDouble"|"$numberDecimal": S}
 *   Date → S, ISO-8601 UTC with milliseconds (sortable); ObjectId → S, 24 hex digits
 *   Binary → M {"$binary": B, "$subtype": N}; Timestamp → M {"$timestamp": M {t: N, i: N}}
 *   Regular expression → M {"$regex": S, "$options": S}; MinKey/MaxKey → M {"$minKey"|"$maxKey": N 1}
 *   Code → M {"$code": S}
 * The numeric BSON type (Int32 vs Int64 vs Double) is not kept, as in every DynamoDB document mapping.
 * DynamoDB nests maps and lists 32 levels deep at most: a document or array that would open a level deeper is stored as
 *   M {"$ejson": S <its canonical Extended JSON>}, which holds it exactly (read it back with EJSON.parse).
 */

/**
 * DynamoDB's nesting limit: 32 levels counting the item itself, so an attribute may hold at most 31 nested maps and
 * lists (measured against DynamoDB Local: 31 accepted, 32 refused). Here the item's own attributes are on level 1.
 */
export const MAX_NESTING_LEVELS = 32;

function isContainer(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  if (value instanceof Date || value instanceof RegExp) return false;
  const type = bsonTypeOf(value);
  // These BSON values become maps here too, but shallow ones: one or two levels.
  return type === undefined;
}

/** A document or array too deep for DynamoDB, kept whole as canonical Extended JSON. */
function deepValueAttribute(value: unknown): AttributeValue {
  return { M: { $ejson: { S: stringifyCanonical(value) } } };
}

const N_MAX_EXPONENT = 125;
const N_MIN_EXPONENT = -130;

/** Whether a decimal string fits DynamoDB's number type exactly: at most 38 significant digits, 1E-130 to <1E+126. */
export function fitsDynamoNumber(text: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return false;
  const integer = match[1] ?? '';
  const all = `${integer}${match[2] ?? ''}`;
  const leadingZeros = all.length - all.replace(/^0+/, '').length;
  const significant = all.slice(leadingZeros).replace(/0+$/, '');
  if (significant === '') return !text.startsWith('-'); // zero; DynamoDB has no negative zero
  if (significant.length > 38) return false;
  // Scientific exponent of the first significant digit.
  const exponent = integer.length + Number(match[3] ?? 0) - leadingZeros - 1;
  return exponent <= N_MAX_EXPONENT && exponent >= N_MIN_EXPONENT;
}

function numberAttribute(text: string, wrapper: '$numberDouble' | '$numberDecimal'): AttributeValue {
  return fitsDynamoNumber(text) ? { N: text } : { M: { [wrapper]: { S: text } } };
}

function doubleAttribute(value: number): AttributeValue {
  if (Object.is(value, -0)) return { M: { $numberDouble: { S: '-0.0' } } };
  if (!Number.isFinite(value)) return { M: { $numberDouble: { S: String(value) } } };
  return numberAttribute(String(value), '$numberDouble');
}

export function toAttribute(value: unknown, path: string, level = 1): AttributeValue {
  // Binary, Timestamp and the like open at most two levels themselves: keep room for them below the limit.
  if (isContainer(value) && level >= MAX_NESTING_LEVELS - 2) return deepValueAttribute(value);
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'boolean') return { BOOL: value };
  if (typeof value === 'number') return doubleAttribute(value);
  if (typeof value === 'bigint') return numberAttribute(value.toString(), '$numberDecimal');
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CdcError('RECORD_MALFORMED', `${path} is an invalid Date`);
    return { S: value.toISOString() };
  }
  if (Array.isArray(value)) return { L: value.map((item, index) => toAttribute(item, `${path}[${index}]`, level + 1)) };
  const bsonType = bsonTypeOf(value);
  switch (bsonType) {
    case 'Int32':
      return { N: String((value as { valueOf(): number }).valueOf()) };
    case 'Double':
      return doubleAttribute((value as { valueOf(): number }).valueOf());
    case 'Long':
      return { N: String(value) };
    case 'Decimal128':
      return numberAttribute(String(value), '$numberDecimal');
    case 'ObjectId':
      return { S: (value as { toHexString(): string }).toHexString() };
    case 'Binary': {
      const binary = value as unknown as { buffer: Uint8Array; sub_type: number };
      return { M: { $binary: { B: Uint8Array.from(binary.buffer) }, $subtype: { N: String(binary.sub_type) } } };
    }
    case 'Timestamp': {
      const timestamp = value as unknown as { t: number; i: number };
      return { M: { $timestamp: { M: { t: { N: String(timestamp.t) }, i: { N: String(timestamp.i) } } } } };
    }
    case 'BSONRegExp': {
      const regex = value as unknown as { pattern: string; options: string };
      return { M: { $regex: { S: regex.pattern }, $options: { S: regex.options } } };
    }
    case 'MinKey':
      return { M: { $minKey: { N: '1' } } };
    case 'MaxKey':
      return { M: { $maxKey: { N: '1' } } };
    case 'Code':
      return { M: { $code: { S: String((value as unknown as { code: string }).code) } } };
    case 'BSONSymbol':
      return { S: String(value) };
    case undefined:
      if (value instanceof RegExp) return { M: { $regex: { S: value.source }, $options: { S: value.flags } } };
      return { M: toAttributeMap(value as Document, path, level + 1) };
    default:
      throw new CdcError('RECORD_MALFORMED', `${path} holds a BSON ${bsonType}, which the DynamoDB sink cannot store`);
  }
}

export function toAttributeMap(document: Document, path = '', level = 1): Record<string, AttributeValue> {
  const map: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(document)) {
    if (value === undefined) continue;
    map[name] = toAttribute(value, path === '' ? name : `${path}.${name}`, level);
  }
  return map;
}
