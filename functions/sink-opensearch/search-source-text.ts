import { parseCanonical } from '../../shared/canonical-json';
import { MONGO_ID_FIELD, mongoIdText } from './search-document';

/*
 * The `_bulk` source line of a document read straight from its canonical Extended JSON text, in one pass and without
 * building the document: searchDocumentJson(parseCanonical(text)) character for character. Parsing each record's value
 * into BSON objects and writing them out again was most of the sink's CPU per document.
 *
 * Most of a canonical text is already its own search JSON: names, strings without escapes, true/false/null, arrays and
 * sub-documents are copied as they stand, and only type wrappers are rewritten ({"$numberInt":"5"} -> 5,
 * {"$oid":"..."} -> "...", {"$date":{"$numberLong":"..."}} -> an ISO-8601 string). Anything this does not handle
 * exactly as the object path would gives undefined, and the caller takes the object path: other wrappers (Decimal128,
 * Binary, Timestamp, regular expressions...), any text not written as the relay writes it (whitespace, bare numbers,
 * non-canonical wrapper contents), names JavaScript would reorder (index-like names) or drop ("__proto__"), names
 * that repeat in one object, names holding "\u0000", and a top-level `_id` that is not the first field.
 */

const QUOTE = 0x22;
const DOLLAR = 0x24;
const COMMA = 0x2c;
const COLON = 0x3a;
const BRACKET_OPEN = 0x5b;
const BRACKET_CLOSE = 0x5d;
const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;

/** A string literal with no escapes and no control characters: its own JSON.stringify. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const PLAIN_STRING = /"[^"\\\u0000-\u001f]*"/y;
/** Any valid JSON string literal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this refuses them
const ANY_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
/** The text bson accepts and writes for an Int32, without leading zeros or "-0" (which read back differently). */
const INT32_TEXT = /^(?:0|-?[1-9]\d{0,9})$/;
/** An Int64's text, limited to 15 digits: always a safe integer, so its search form is the number itself. */
const SAFE_LONG_TEXT = /^(?:0|-?[1-9]\d{0,14})$/;
const OBJECT_ID_TEXT = /^[0-9a-fA-F]{24}$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** The largest time a Date holds (ms from the epoch either way); beyond it a Date is invalid and its search form null. */
const MAX_DATE_MS = 8.64e15;
/** Objects with more names than this check for repeated names with a Set rather than a list. */
const LIST_CHECK_LIMIT = 16;

/** Thrown (one instance) when the text is outside what this writer handles; never escapes this module. */
const OUTSIDE = new Error('outside the search source fast path');

// One conversion at a time (it is synchronous): the text being read, the output so far, and where copying resumes.
let text = '';
let out = '';
let mark = 0;

const outside = (): never => {
  throw OUTSIDE;
};

export interface SearchSourceText {
  /** The search document's JSON: what searchDocumentJson writes for the parsed document. */
  readonly text: string;
  /** Index just past the document's closing brace in the source text. */
  readonly end: number;
}

/**
 * The search source of the canonical Extended JSON document starting at `start` in `source`, and where that document
 * ends; undefined when it is not a document or not one this writer handles (the caller parses it instead). The source
 * is decoded UTF-8 (a record's value), so it holds no lone surrogates, the one thing JSON.stringify escapes that a
 * plain string literal may hold.
 */
export function searchSourceText(source: string, start: number): SearchSourceText | undefined {
  text = source;
  out = '';
  mark = start;
  try {
    const end = topDocument(start);
    return { text: out, end };
  } catch (error) {
    // RangeError: nesting deeper than the stack; the object path decides what such a document is.
    if (error === OUTSIDE || error instanceof RangeError) return undefined;
    throw error;
  } finally {
    text = '';
    out = '';
  }
}

/** Copies the source up to `at`, then `replacement`, and resumes copying at `resume`. */
function replace(at: number, replacement: string, resume: number): void {
  out += text.slice(mark, at) + replacement;
  mark = resume;
}

/** A name JavaScript orders before all others in an object: a canonical array index ("0", "17"; not "01" or "-1"). */
function isIndexLike(name: string): boolean {
  const first = name.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return false;
  return String(Number(name)) === name && Number(name) < 2 ** 32 - 1;
}

/** Where the name read by readName ends (just past its closing quote). */
let nameEnd = 0;

/** The field name whose literal starts at `at`, decoded; sets nameEnd. */
function readName(at: number): string {
  PLAIN_STRING.lastIndex = at;
  if (PLAIN_STRING.test(text)) {
    nameEnd = PLAIN_STRING.lastIndex;
    return text.slice(at + 1, nameEnd - 1);
  }
  ANY_STRING.lastIndex = at;
  if (!ANY_STRING.test(text)) return outside();
  nameEnd = ANY_STRING.lastIndex;
  const name = JSON.parse(text.slice(at, nameEnd)) as string;
  // bson refuses such names; the object path reports the record.
  if (name.includes('\u0000')) return outside();
  return name;
}

/** Names seen in one object, to find a repeated one (JSON.parse keeps the last value at the first one's place). */
class Names {
  private list: string[] = [];
  private set: Set<string> | undefined;

  add(name: string): void {
    if (this.set) {
      if (this.set.has(name)) outside();
      this.set.add(name);
      return;
    }
    if (this.list.includes(name)) outside();
    this.list.push(name);
    if (this.list.length > LIST_CHECK_LIMIT) this.set = new Set(this.list);
  }
}

/** A name that sends the document the general way, at any depth. */
function checkName(name: string): void {
  if (name.charCodeAt(0) === DOLLAR || name === '__proto__' || isIndexLike(name)) outside();
}

/** The top-level document: `_id` becomes the leading `mongo_id` field. Returns the index past its closing brace. */
function topDocument(at: number): number {
  if (text.charCodeAt(at) !== BRACE_OPEN) return outside();
  let position = at + 1;
  if (text.charCodeAt(position) === BRACE_CLOSE) {
    out = '{}';
    mark = position + 1;
    return position + 1;
  }
  const names = new Names();
  for (let first = true; ; first = false) {
    if (text.charCodeAt(position) !== QUOTE) return outside();
    const name = readName(position);
    names.add(name);
    if (text.charCodeAt(nameEnd) !== COLON) return outside();
    if (first && name === '_id') {
      position = idValue(nameEnd + 1);
      mark = position; // the rest, from the comma or closing brace after the _id, is copied
    } else {
      if (name === '_id' || name === MONGO_ID_FIELD) return outside();
      checkName(name);
      position = value(nameEnd + 1);
    }
    const next = text.charCodeAt(position);
    if (next === COMMA) {
      position++;
      continue;
    }
    if (next !== BRACE_CLOSE) return outside();
    out += text.slice(mark, position + 1);
    mark = position + 1;
    return position + 1;
  }
}

/**
 * The top-level `_id` written as `{"mongo_id":<its text>` into the output; returns the index past its value. Common
 * kinds are written here, any other through the object path's own mongoIdText.
 */
function idValue(at: number): number {
  const first = text.charCodeAt(at);
  let idJson: string | undefined;
  let end = at;
  if (first === QUOTE) {
    PLAIN_STRING.lastIndex = at;
    if (PLAIN_STRING.test(text)) {
      end = PLAIN_STRING.lastIndex;
      idJson = text.slice(at, end);
    } else {
      end = stringEnd(at);
      idJson = JSON.stringify(JSON.parse(text.slice(at, end)));
    }
  } else if (first === BRACE_OPEN) {
    const wrapped = wrapperAt(at);
    if (wrapped !== undefined) {
      end = wrappedEnd;
      if (wrapped.kind === 'oid' || wrapped.kind === 'int' || wrapped.kind === 'long') idJson = `"${wrapped.text}"`;
    }
  }
  if (idJson === undefined) {
    end = skipValue(at);
    let id: unknown;
    try {
      id = parseCanonical(text.slice(at, end));
    } catch {
      return outside();
    }
    idJson = JSON.stringify(mongoIdText(id));
  }
  out = `{${JSON.stringify(MONGO_ID_FIELD)}:${idJson}`;
  return end;
}

/** The index past the string literal at `at`. */
function stringEnd(at: number): number {
  PLAIN_STRING.lastIndex = at;
  if (PLAIN_STRING.test(text)) return PLAIN_STRING.lastIndex;
  ANY_STRING.lastIndex = at;
  if (!ANY_STRING.test(text)) return outside();
  return ANY_STRING.lastIndex;
}

/** Converts the value at `at` (copied, or replaced where it differs); returns the index past it. */
function value(at: number): number {
  switch (text.charCodeAt(at)) {
    case QUOTE: {
      PLAIN_STRING.lastIndex = at;
      if (PLAIN_STRING.test(text)) return PLAIN_STRING.lastIndex;
      ANY_STRING.lastIndex = at;
      if (!ANY_STRING.test(text)) return outside();
      const end = ANY_STRING.lastIndex;
      // Escapes as JSON.stringify writes them, which may not be how the source wrote them.
      replace(at, JSON.stringify(JSON.parse(text.slice(at, end))), end);
      return end;
    }
    case BRACE_OPEN:
      return object(at);
    case BRACKET_OPEN:
      return array(at);
    case 0x74: // t
      return text.startsWith('true', at) ? at + 4 : outside();
    case 0x66: // f
      return text.startsWith('false', at) ? at + 5 : outside();
    case 0x6e: // n
      return text.startsWith('null', at) ? at + 4 : outside();
    default:
      // Bare numbers (canonical Extended JSON wraps every number), whitespace, anything else.
      return outside();
  }
}

function array(at: number): number {
  let position = at + 1;
  if (text.charCodeAt(position) === BRACKET_CLOSE) return position + 1;
  for (;;) {
    position = value(position);
    const next = text.charCodeAt(position);
    if (next === COMMA) position++;
    else if (next === BRACKET_CLOSE) return position + 1;
    else return outside();
  }
}

/** A sub-document, or a type wrapper in its place. */
function object(at: number): number {
  let position = at + 1;
  const firstCode = text.charCodeAt(position);
  if (firstCode === BRACE_CLOSE) return position + 1;
  if (firstCode === QUOTE && text.charCodeAt(position + 1) === DOLLAR) {
    const wrapped = wrapperAt(at);
    if (wrapped === undefined) return outside();
    replace(at, searchJsonOf(wrapped), wrappedEnd);
    return wrappedEnd;
  }
  const names = new Names();
  for (;;) {
    if (text.charCodeAt(position) !== QUOTE) return outside();
    const name = readName(position);
    checkName(name);
    names.add(name);
    if (text.charCodeAt(nameEnd) !== COLON) return outside();
    position = value(nameEnd + 1);
    const next = text.charCodeAt(position);
    if (next === COMMA) position++;
    else if (next === BRACE_CLOSE) return position + 1;
    else return outside();
  }
}

interface Wrapped {
  readonly kind: 'int' | 'long' | 'double' | 'oid' | 'date';
  /** The wrapper's inner text, checked: digits for int, long and date (ms), 24 lowercase hex digits for oid. */
  readonly text: string;
}

/** Where the wrapper read by wrapperAt ends. */
let wrappedEnd = 0;

/**
 * The type wrapper at `at` if it is one this writer handles, in the canonical form bson reads as that type (sets
 * wrappedEnd); undefined when the object there is not one.
 */
function wrapperAt(at: number): Wrapped | undefined {
  // {"$numberInt":"5"}: the name, then a plain string, then the closing brace.
  if (text.charCodeAt(at) !== BRACE_OPEN || text.charCodeAt(at + 1) !== QUOTE || text.charCodeAt(at + 2) !== DOLLAR) return undefined;
  PLAIN_STRING.lastIndex = at + 1;
  if (!PLAIN_STRING.test(text)) return undefined;
  const nameEndAt = PLAIN_STRING.lastIndex;
  if (text.charCodeAt(nameEndAt) !== COLON) return undefined;
  const name = text.slice(at + 3, nameEndAt - 1); // without the "$"
  if (name === 'date') {
    // {"$date":{"$numberLong":"<ms>"}}
    const inner = wrapperAt(nameEndAt + 1);
    if (inner === undefined || inner.kind !== 'long' || text.charCodeAt(wrappedEnd) !== BRACE_CLOSE) return undefined;
    wrappedEnd++;
    return { kind: 'date', text: inner.text };
  }
  const valueAt = nameEndAt + 1;
  if (text.charCodeAt(valueAt) !== QUOTE) return undefined;
  PLAIN_STRING.lastIndex = valueAt;
  if (!PLAIN_STRING.test(text)) return undefined;
  const valueEnd = PLAIN_STRING.lastIndex;
  if (text.charCodeAt(valueEnd) !== BRACE_CLOSE) return undefined;
  const inner = text.slice(valueAt + 1, valueEnd - 1);
  let kind: Wrapped['kind'];
  switch (name) {
    case 'numberInt': {
      if (!INT32_TEXT.test(inner)) return undefined;
      const number = Number(inner);
      if (number < INT32_MIN || number > INT32_MAX) return undefined;
      kind = 'int';
      break;
    }
    case 'numberLong':
      if (!SAFE_LONG_TEXT.test(inner)) return undefined;
      kind = 'long';
      break;
    case 'numberDouble':
      kind = 'double';
      break;
    case 'oid':
      if (!OBJECT_ID_TEXT.test(inner)) return undefined;
      wrappedEnd = valueEnd + 1;
      return { kind: 'oid', text: inner.toLowerCase() };
    default:
      return undefined;
  }
  wrappedEnd = valueEnd + 1;
  return { kind, text: inner };
}

/** The search JSON of a wrapped value, as searchJson writes the BSON value bson reads from the wrapper. */
function searchJsonOf(wrapped: Wrapped): string {
  switch (wrapped.kind) {
    case 'int':
    case 'long':
      return wrapped.text;
    case 'double': {
      // As the codec reads it (parseFloat, lenient as it is) and as the object path writes a Double.
      const number = Number.parseFloat(wrapped.text);
      return Number.isFinite(number) ? JSON.stringify(number) : 'null';
    }
    case 'oid':
      return `"${wrapped.text}"`;
    case 'date': {
      const ms = Number(wrapped.text);
      return Math.abs(ms) <= MAX_DATE_MS ? `"${new Date(ms).toISOString()}"` : 'null';
    }
  }
}

/** The index past the JSON value at `at`, for a value checked afterwards by parsing it. */
function skipValue(at: number): number {
  let depth = 0;
  let position = at;
  for (;;) {
    const code = text.charCodeAt(position);
    if (Number.isNaN(code)) return outside();
    if (code === QUOTE) {
      position = stringEnd(position);
    } else {
      if (code === BRACE_OPEN || code === BRACKET_OPEN) depth++;
      else if (code === BRACE_CLOSE || code === BRACKET_CLOSE) depth--;
      else if (depth === 0 && code === COMMA) return position;
      position++;
      if (depth < 0) return position - 1;
    }
    if (depth === 0) {
      const next = text.charCodeAt(position);
      if (next === COMMA || next === BRACE_CLOSE || Number.isNaN(next)) return position;
    }
  }
}
