import { type ChangeStreamDocument, Int32, ObjectId, Timestamp } from 'mongodb';
import { parseCanonical } from './canonical-json';
import type { DecodedChangeEvent, DocumentTextWriter } from './record-format';
import { positionAt } from './stream-position';

/*
 * A document change as the relay writes it, read from its text without parsing it: each top-level member is matched
 * against the exact canonical text the relay writes for it, and the full document is handed to the consumer's
 * DocumentTextWriter. Parsing the event around the document cost as much as the document itself. Anything else (a
 * member the relay does not write for inserts, replaces, updates without an update description, and deletes; any
 * member not in the relay's form; a name given twice) gives undefined, and decodeRecord parses the record as usual,
 * which decodes or reports it: so whatever this returns is what parsing would have given.
 */

const OBJECT_OPEN = 0x7b;
const OBJECT_CLOSE = 0x7d;
const COMMA = 0x2c;
const QUOTE = 0x22;

/** The top-level members the relay writes, each as its name's literal and colon; any other name leaves the event to the parser. */
const MEMBERS = ['_id', 'operationType', 'clusterTime', 'wallTime', 'ns', 'documentKey', 'fullDocument', '_cdc'] as const;
type Member = (typeof MEMBERS)[number];
const MEMBER_PREFIXES: readonly string[] = MEMBERS.map((name) => `"${name}":`);
/** Where the name read by memberAt ends (past its colon). */
let memberEnd = 0;

/** The member whose name starts at `at` (sets memberEnd), or -1 for a name the relay does not write at the top level. */
function memberAt(text: string, at: number): number {
  // The first letter narrows the names to one or two, so each member costs one or two comparisons.
  let index: number;
  switch (text.charCodeAt(at + 1)) {
    case 0x5f: // _
      index = text.charCodeAt(at + 2) === 0x69 ? 0 : 7;
      break;
    case 0x6f: // o
      index = 1;
      break;
    case 0x63: // c
      index = 2;
      break;
    case 0x77: // w
      index = 3;
      break;
    case 0x6e: // n
      index = 4;
      break;
    case 0x64: // d
      index = 5;
      break;
    case 0x66: // f
      index = 6;
      break;
    default:
      return -1;
  }
  const prefix = MEMBER_PREFIXES[index] as string;
  if (!text.startsWith(prefix, at)) return -1;
  memberEnd = at + prefix.length;
  return index;
}
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const PLAIN_STRING = /^"[^"\\\u0000-\u001f]*"$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const RESUME_TOKEN = /^\{"_data":"[^"\\\u0000-\u001f]*"\}$/;
/** Whole numbers as JSON writes them (no leading zeros); uint32 range is checked after. */
const TIMESTAMP = /^\{"\$timestamp":\{"t":(0|[1-9]\d{0,9}),"i":(0|[1-9]\d{0,9})\}\}$/;
/** At most 15 digits: a safe integer, read as the same Date by bson. */
const DATE = /^\{"\$date":\{"\$numberLong":"(0|-?[1-9]\d{0,14})"\}\}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const NAMESPACE = /^\{"db":"([^"\\\u0000-\u001f]*)"(?:,"coll":"([^"\\\u0000-\u001f]*)")?\}$/;
/** The `_cdc` member cdcMember writes; the ordinal an Int32 (wider ones bson would wrap: left to the parser). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const CDC = /^\{"v":\{"\$numberInt":"([12])"\},"ordinal":\{"\$numberInt":"(0|[1-9]\d{0,9})"\}(,"trimmed":true)?(?:,"snapshot":"([^"\\\u0000-\u001f]*)")?\}$/;
/**
 * documentKeys whose text is their own canonical form: `_id` alone, an Int32 (at most 9 digits, so never one bson
 * would wrap), Int64 (at most 15 digits), ObjectId in lowercase hex, or a string without escapes.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const CANONICAL_ID_KEY = /^\{"_id":(?:\{"\$numberInt":"(0|-?[1-9]\d{0,8})"\}|\{"\$numberLong":"(?:0|-?[1-9]\d{0,14})"\}|\{"\$oid":"([0-9a-f]{24})"\}|"([^"\\\u0000-\u001f]*)")\}$/;
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const UINT32_MAX = 0xffff_ffff;
const DOCUMENT_OPERATIONS: ReadonlySet<string> = new Set(['insert', 'update', 'replace', 'delete']);

/** A string literal, escapes and all (the members it skips are matched whole afterwards). */
const STRING_LITERAL = /"[^"\\]*(?:\\.[^"\\]*)*"/y;

/** The index past the JSON value at `at` (the value is matched afterwards; this only finds its end). */
function valueEnd(text: string, at: number): number {
  let position = at;
  let depth = 0;
  for (;;) {
    const code = text.charCodeAt(position);
    if (Number.isNaN(code)) return position;
    if (code === QUOTE) {
      STRING_LITERAL.lastIndex = position;
      if (!STRING_LITERAL.test(text)) return text.length;
      position = STRING_LITERAL.lastIndex;
      continue;
    }
    if (code === OBJECT_OPEN || code === 0x5b) depth++;
    else if (code === OBJECT_CLOSE || code === 0x5d) {
      if (depth === 0) return position;
      depth--;
    } else if (code === COMMA && depth === 0) return position;
    position++;
  }
}

/** An Int32's canonical text to its value, or undefined outside the Int32 range (bson would wrap it). */
function int32Of(digits: string): number | undefined {
  const value = Number(digits);
  return value >= INT32_MIN && value <= INT32_MAX ? value : undefined;
}

/**
 * The documentKey CANONICAL_ID_KEY matched, built as parseCanonical builds it (an Int32, ObjectId or string `_id`,
 * which canonical-json's own reviver builds the same way) without parsing it; an Int64 `_id` is parsed.
 */
function documentKeyOf(match: RegExpExecArray, keyText: string): Record<string, unknown> {
  const [, int32, objectId, string] = match;
  if (int32 !== undefined) return { _id: new Int32(int32) };
  if (objectId !== undefined) return { _id: new ObjectId(objectId) };
  if (string !== undefined) return { _id: string }; // no escapes: the literal's text is the string
  return parseCanonical(keyText) as Record<string, unknown>;
}

/**
 * The decoded document change, if `text` is one as the relay writes it, keyed by `keyText` (the record's key, which
 * must be the documentKey's canonical text); otherwise undefined.
 */
export function decodeRelayEventText(text: string, keyText: string, writeDocument: DocumentTextWriter): DecodedChangeEvent | undefined {
  if (text.charCodeAt(0) !== OBJECT_OPEN) return undefined;
  let resumeToken: string | undefined;
  let operationType: string | undefined;
  let clusterTime: RegExpExecArray | null = null;
  let wallTime: number | undefined;
  let namespace: RegExpExecArray | null = null;
  let keyMatches = false;
  let cdc: RegExpExecArray | null = null;
  let documentText: string | undefined;
  let documentNull = false;
  let idKey: RegExpExecArray | null = null;
  /** One bit per member of MEMBERS seen: a name given twice leaves the event to the parser. */
  let seen = 0;
  let position = 1;
  for (;;) {
    const index = memberAt(text, position);
    if (index < 0 || (seen & (1 << index)) !== 0) return undefined;
    seen |= 1 << index;
    const name: Member = MEMBERS[index] as Member;
    const at = memberEnd;
    if (name === 'fullDocument') {
      if (text.startsWith('null', at)) {
        documentNull = true;
        position = at + 4;
      } else {
        const written = text.charCodeAt(at) === OBJECT_OPEN ? writeDocument(text, at) : undefined;
        if (written === undefined) return undefined;
        documentText = written.text;
        position = written.end;
      }
    } else {
      position = valueEnd(text, at);
      const value = text.slice(at, position);
      switch (name) {
        case '_id':
          if (!RESUME_TOKEN.test(value)) return undefined;
          resumeToken = value.slice(10, -2);
          break;
        case 'operationType':
          if (!PLAIN_STRING.test(value)) return undefined;
          operationType = value.slice(1, -1);
          break;
        case 'clusterTime':
          clusterTime = TIMESTAMP.exec(value);
          if (clusterTime === null) return undefined;
          break;
        case 'wallTime': {
          const date = DATE.exec(value);
          if (date === null) return undefined;
          wallTime = Number(date[1]);
          break;
        }
        case 'ns':
          namespace = NAMESPACE.exec(value);
          if (namespace === null) return undefined;
          break;
        case 'documentKey':
          idKey = value === keyText ? CANONICAL_ID_KEY.exec(value) : null;
          keyMatches = idKey !== null;
          if (!keyMatches) return undefined;
          break;
        case '_cdc':
          cdc = CDC.exec(value);
          if (cdc === null) return undefined;
          break;
        default:
          return undefined;
      }
    }
    const next = text.charCodeAt(position);
    if (next === OBJECT_CLOSE && position === text.length - 1) break;
    if (next !== COMMA) return undefined;
    position++;
  }
  if (operationType === undefined || !DOCUMENT_OPERATIONS.has(operationType) || !keyMatches || cdc === null || clusterTime === null) return undefined;
  const seconds = Number(clusterTime[1]);
  const increment = Number(clusterTime[2]);
  const ordinal = int32Of(cdc[2] ?? '');
  if (seconds > UINT32_MAX || increment > UINT32_MAX || ordinal === undefined) return undefined;
  const timestamp = new Timestamp({ t: seconds, i: increment });
  const event: Record<string, unknown> = {};
  if (resumeToken !== undefined) event._id = { _data: resumeToken };
  event.operationType = operationType;
  event.clusterTime = timestamp;
  if (wallTime !== undefined) event.wallTime = new Date(wallTime);
  if (namespace !== null) event.ns = namespace[2] === undefined ? { db: namespace[1] } : { db: namespace[1], coll: namespace[2] };
  event.documentKey = idKey === null ? parseCanonical(keyText) : documentKeyOf(idKey, keyText);
  if (documentNull) event.fullDocument = null;
  const snapshot = cdc[4];
  return {
    tombstone: false,
    event: event as unknown as ChangeStreamDocument,
    version: positionAt(timestamp, ordinal),
    namespace: namespace === null ? undefined : namespace[2] === undefined ? { db: namespace[1] ?? '' } : { db: namespace[1] ?? '', coll: namespace[2] },
    documentKeyJson: keyText,
    trimmed: cdc[3] !== undefined,
    ...(snapshot !== undefined ? { snapshot } : {}),
    ...(documentText !== undefined ? { fullDocumentText: documentText } : {}),
  };
}
