/**
 * Sizes of BSON values read in place, for the walkers that copy or skip values without deserializing them (the
 * canonical JSON writer, shared/bson-canonical-json.ts, and the relay's change-event walker). Each returns -1 where the
 * bytes do not hold together, and its caller throws its own error (its own fallback) there.
 */

const int32At = (source: Buffer, position: number): number =>
  (source[position] as number) | ((source[position + 1] as number) << 8) | ((source[position + 2] as number) << 16) | ((source[position + 3] as number) << 24);

/** The position after the C string (NUL-terminated) at `position`, or -1 when it is not terminated before `end`. */
export function bsonCstringEnd(source: Buffer, position: number, end: number): number {
  let index = position;
  while (index < end && source[index] !== 0) index++;
  return index >= end ? -1 : index + 1;
}

/** A length-prefixed value's end: its int32 length at `position`, plus `extra` bytes; -1 when the length runs past `end`. */
function lengthPrefixedEnd(source: Buffer, position: number, end: number, extra: number): number {
  return position + 4 > end ? -1 : position + extra + int32At(source, position);
}

/**
 * Where a value of BSON type `type` that starts at `position` ends; -1 for an unknown type or a value that runs past
 * `end` (a negative length included).
 */
export function bsonValueEnd(source: Buffer, type: number, position: number, end: number): number {
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
      after = lengthPrefixedEnd(source, position, end, 4);
      break;
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope: int32 total length
      after = lengthPrefixedEnd(source, position, end, 0);
      break;
    case 0x05: // binary: int32 length, subtype, bytes
      after = lengthPrefixedEnd(source, position, end, 5);
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
      const pattern = bsonCstringEnd(source, position, end);
      after = pattern < 0 ? -1 : bsonCstringEnd(source, pattern, end);
      break;
    }
    case 0x0c: // DBPointer: string, then a 12-byte ObjectId
      after = lengthPrefixedEnd(source, position, end, 4 + 12);
      break;
    case 0x10: // int32
      after = position + 4;
      break;
    case 0x13: // Decimal128
      after = position + 16;
      break;
    default:
      return -1;
  }
  return after > end || after < position ? -1 : after;
}
