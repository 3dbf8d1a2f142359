import type { ChangeStreamDocument, Timestamp } from 'mongodb';
import { parseCanonical, stringifyCanonical, stringifyCanonicalWithMember } from './canonical-json';
import { CdcError } from './errors';
import { type StreamPosition, positionAt } from './stream-position';
import { bsonTypeOf } from './bson-value';
import { decodeRelayEventText } from './relay-event-text';

type Fields = Record<string, unknown>;

/**
 * The Kafka record format (DESIGN.md, "Contracts"). Bumped only with a migration note: consumers check `_cdc.v` before
 * trusting anything else in a record. Version 2 changed only the headers (version 1 also carried the operation type,
 * namespace, cluster time and version key, all of which the value holds); the key and value are the same, so a reader
 * of this module takes both.
 */
export const FORMAT_VERSION = 2;
/** Every format version `decodeRecord` reads: records of older relays may still sit in Kafka. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];

/**
 * Header names. Headers only repeat what the value holds, for tooling that routes without parsing values. Each header
 * costs KafkaJS about as much CPU per record as a fifth of the record itself, so a record carries only the format
 * version (what a reader must know before it parses the value) and, on snapshot copies, the snapshot id.
 */
export const HEADERS = {
  format: 'cdc-format',
  /** On snapshot records only: the id of the snapshot run that copied the document. */
  snapshot: 'cdc-snapshot',
} as const;

/** One frozen object shared by every change record: nothing to build or copy per record. */
export const CHANGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ [HEADERS.format]: String(FORMAT_VERSION) });

type OperationType = ChangeStreamDocument['operationType'];

/** Typed as a record so the compiler names any operation type a new driver adds and this list lacks. */
const OPERATION_TYPES: Readonly<Record<OperationType, true>> = {
  insert: true,
  update: true,
  replace: true,
  delete: true,
  drop: true,
  rename: true,
  dropDatabase: true,
  invalidate: true,
  create: true,
  createIndexes: true,
  dropIndexes: true,
  modify: true,
  shardCollection: true,
  reshardCollection: true,
  refineCollectionShardKey: true,
};
const DOCUMENT_OPERATIONS: ReadonlySet<string> = new Set<OperationType>(['insert', 'update', 'replace', 'delete']);

const isOperationType = (value: string): value is OperationType => Object.hasOwn(OPERATION_TYPES, value);

export interface Namespace {
  readonly db: string;
  readonly coll?: string;
}

export interface RecordMeta {
  /** Position among consecutive events sharing one cluster time (see event-version.ts). */
  readonly ordinal: number;
  /** The full document and pre-image were removed because the event was too large to send whole. */
  readonly trimmed?: boolean;
  /** Set on snapshot records: the id of the snapshot run (also in `_cdc.snapshot` and the `cdc-snapshot` header). */
  readonly snapshot?: string;
}

export interface EncodedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export interface TombstoneRecord {
  readonly key: Buffer;
  readonly value: null;
  readonly headers: Readonly<Record<string, string>>;
}

export interface DecodedChangeEvent {
  readonly tombstone: false;
  /** The change event as MongoDB gave it, every BSON type intact, without the `_cdc` metadata. */
  readonly event: ChangeStreamDocument;
  readonly version: StreamPosition;
  /** Undefined only for events that carry no `ns`: MongoDB's `invalidate`, or a record from a producer that omits it. */
  readonly namespace: Namespace | undefined;
  /** Canonical Extended JSON of the documentKey (the record key): the identity of the document in a sink. */
  readonly documentKeyJson: string;
  readonly trimmed: boolean;
  /** The snapshot run that copied this document; undefined for change events. */
  readonly snapshot?: string;
  /**
   * The full document as decodeRecord's DocumentTextWriter wrote it, when it did: `event` then has no fullDocument.
   */
  readonly fullDocumentText?: string;
}

export interface DecodedTombstone {
  readonly tombstone: true;
  readonly documentKeyJson: string;
}

export type DecodedChangeRecord = DecodedChangeEvent | DecodedTombstone;

const canonical = stringifyCanonical;


const isTimestamp = (value: unknown): value is Timestamp => bsonTypeOf(value) === 'Timestamp';

/** A document, as opposed to an array, null, or a BSON value object such as ObjectId. */
const isDocument = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && bsonTypeOf(value) === undefined;

const malformed = (reason: string): never => {
  throw new CdcError('RECORD_MALFORMED', reason);
};

/** Undefined when there is no `ns`; an `ns` that is there but malformed is the caller's to judge. */
function namespaceOf(ns: unknown): Namespace | undefined | 'invalid' {
  if (ns === undefined) return undefined;
  if (!isDocument(ns) || typeof ns.db !== 'string' || (ns.coll !== undefined && typeof ns.coll !== 'string')) return 'invalid';
  return typeof ns.coll === 'string' ? { db: ns.db, coll: ns.coll } : { db: ns.db };
}

/**
 * A change event as a Kafka record. Key: the documentKey as canonical Extended JSON (equal keys, one partition, per-
 * document order); events about a collection or database rather than a document are keyed by their namespace. Value:
 * the event itself as canonical Extended JSON plus `_cdc` (format version, ordinal, trimmed), so a consumer needs
 * nothing from the headers. Types survive exactly only if the event was read with promoteValues: false (and
 * promoteLongs: false, bsonRegExp: true): a plain JS number is written as Int32, Int64 or Double by its value.
 * Extended JSON's own limit applies: a sub-document shaped like a type wrapper (`{ $oid: ... }`,
 * `{ $date: ... }`) reads back as that type.
 */
export function encodeChangeEvent(event: ChangeStreamDocument, meta: RecordMeta): EncodedRecord {
  const fields = event as unknown as Fields;
  if (!isTimestamp(fields.clusterTime)) {
    return malformed(`change event (${String(fields.operationType)}) has no clusterTime Timestamp; its version cannot be computed`);
  }
  const namespace = namespaceOf(fields.ns);
  const known = namespace === 'invalid' ? undefined : namespace;
  const keySource = fields.documentKey ?? (known ? { ns: known } : {});
  // The version a sink will compare: refused here when the ordinal cannot be one, rather than in every sink.
  positionAt(fields.clusterTime, meta.ordinal);
  const cdc = cdcMember(meta);
  const headers = meta.snapshot === undefined ? CHANGE_HEADERS : snapshotHeaders(meta.snapshot);
  return {
    key: Buffer.from(canonical(keySource), 'utf8'),
    // The event written as it is with `_cdc` appended: the same text as { ...event, _cdc } without copying the event.
    value: Buffer.from(stringifyCanonicalWithMember(fields, '_cdc', cdc), 'utf8'),
    headers,
  };
}

/** The `_cdc` member every record's value ends with. */
export function cdcMember(meta: RecordMeta) {
  return {
    v: FORMAT_VERSION,
    ordinal: meta.ordinal,
    ...(meta.trimmed ? { trimmed: true } : {}),
    ...(meta.snapshot !== undefined ? { snapshot: meta.snapshot } : {}),
  };
}

/** The headers of a snapshot copy: the format version and the snapshot id. One object can serve a whole chunk. */
export function snapshotHeaders(snapshot: string): Readonly<Record<string, string>> {
  return Object.freeze({ ...CHANGE_HEADERS, [HEADERS.snapshot]: snapshot });
}

/**
 * The fixed text around a copied document's `_id` and body: a copy's key is `key[0] + ID + key[1]` and its value
 * `value[0] + ID + value[1] + DOCUMENT + value[2]`, where ID and DOCUMENT are the canonical Extended JSON of the
 * document's `_id` and of the document. The very text encodeChangeEvent writes for the insert-shaped event of a
 * copy (see snapshot-records.ts), which the tests hold it to; for writers that produce ID and DOCUMENT themselves.
 */
export function copyRecordFrame(
  clusterTime: Timestamp,
  namespace: { readonly db: string; readonly coll: string },
  meta: RecordMeta,
): { key: [string, string]; value: [string, string, string] } {
  positionAt(clusterTime, meta.ordinal);
  const head = `{"operationType":"insert","clusterTime":${canonical(clusterTime)},"ns":${canonical({ db: namespace.db, coll: namespace.coll })}`;
  return {
    key: ['{"_id":', '}'],
    value: [`${head},"documentKey":{"_id":`, '},"fullDocument":', `,"_cdc":${canonical(cdcMember(meta))}}`],
  };
}

/** The record that lets a compacted topic forget a deleted document: the same key, no value. */
export function tombstoneFor(key: Buffer): TombstoneRecord {
  return { key, value: null, headers: CHANGE_HEADERS };
}

function parseExtendedJson(text: string, part: 'key' | 'value'): unknown {
  try {
    return parseCanonical(text);
  } catch (error) {
    // JSON.parse throws SyntaxError before anything is revived; bson throws BSONError for malformed Extended JSON.
    if (error instanceof SyntaxError) return malformed(`${part} is not JSON: ${error.message}`);
    return malformed(`${part} is not valid Extended JSON: ${(error as Error).message}`);
  }
}

function withoutFullDocument(value: Fields): Fields {
  const { fullDocument: _written, ...rest } = value;
  return rest;
}

/** Canonical Extended JSON brings numbers back as Int32, Double or Long objects. */
function integerOf(value: unknown): number | undefined {
  let number: unknown = value;
  const bsonType = bsonTypeOf(value);
  if (bsonType === 'Int32' || bsonType === 'Double' || bsonType === 'Long') number = Number(value);
  return typeof number === 'number' && Number.isSafeInteger(number) ? number : undefined;
}

const MAX_ORDINAL = 0xffff_ffff;

/**
 * Parses and validates a record of this format. A null value is a tombstone. Any deviation throws RECORD_MALFORMED
 * naming what is wrong, for the dead-letter topic. Headers are accepted but not read: the key and value are the
 * contract, and a record re-driven from a dead-letter topic may have lost them.
 */
export function decodeRecord(
  input: {
    key: Buffer | null;
    value: Buffer | null;
    headers?: Record<string, Buffer | string | undefined>;
  },
  writeDocument?: DocumentTextWriter,
): DecodedChangeRecord {
  if (input.key === null || input.key.length === 0) return malformed('record has no key');
  const valueText = input.value?.toString('utf8');
  if (valueText !== undefined) {
    // Nearly every record's key is the canonical text of the documentKey its value holds, which is then also the key's
    // canonical form: the key needs no parsing of its own (a fifth of decoding). Any other record, malformed ones
    // included, takes the full path below, so what is decoded or reported is the same either way.
    try {
      const keyText = input.key.toString('utf8');
      const decoded =
        (writeDocument && (decodeRelayEventText(valueText, keyText, writeDocument) ?? decodeWithDocumentText(valueText, keyText, writeDocument))) ??
        decodeEvent(valueText, keyText, 'unparsed');
      if (decoded !== undefined) return decoded;
    } catch {
      // reported by the full path, which checks the key first
    }
  }
  const key = parseExtendedJson(input.key.toString('utf8'), 'key');
  if (!isDocument(key)) return malformed('key is not an Extended JSON document');
  const keyJson = canonical(key);
  if (valueText === undefined) return { tombstone: true, documentKeyJson: keyJson };
  return decodeEvent(valueText, keyJson, 'parsed') as DecodedChangeEvent;
}

/**
 * Writes a full document, given as canonical Extended JSON text starting at `start` in `text`, as a consumer's own
 * text; returns that text and the index past the document, or undefined when it leaves the document to be parsed.
 * Whatever it writes must be what the consumer would make of the parsed document, and it may write only documents
 * that parse.
 */
export type DocumentTextWriter = (text: string, start: number) => { readonly text: string; readonly end: number } | undefined;

/**
 * The unparsed-key decoding with the full document written by `writeDocument` instead of parsed: the rest of the value
 * (the event around the document, with `null` in its place) is parsed and checked as decodeEvent checks any value.
 * Undefined when anything is out of the ordinary (no fullDocument object, a "$" name or a repeated name at the top,
 * a document the writer leaves, a key that is not the documentKey's canonical text): the caller decodes the usual way.
 */
function decodeWithDocumentText(text: string, keyText: string, writeDocument: DocumentTextWriter): DecodedChangeEvent | undefined {
  const written = writeFullDocument(text, writeDocument);
  if (written === undefined) return undefined;
  const decoded = decodeEvent(`${text.slice(0, written.start)}null${text.slice(written.end)}`, keyText, 'unparsed', true);
  return decoded && { ...decoded, fullDocumentText: written.text };
}

const FULL_DOCUMENT_MEMBER = '"fullDocument":{';

/**
 * The value's top-level fullDocument object as the writer writes it, and where it starts and ends in the text; found
 * by walking the top-level members, so a "fullDocument" inside another member is never taken for it. Undefined when
 * there is none, the writer leaves it, or the top level holds a name with a "$" (bson would decide the whole event),
 * a second fullDocument, or whitespace.
 */
function writeFullDocument(text: string, writeDocument: DocumentTextWriter): { text: string; start: number; end: number } | undefined {
  if (text.charCodeAt(0) !== 0x7b) return undefined;
  let written: { text: string; start: number; end: number } | undefined;
  let position = 1;
  for (;;) {
    if (text.charCodeAt(position) !== 0x22 || text.charCodeAt(position + 1) === 0x24) return undefined;
    if (text.startsWith(FULL_DOCUMENT_MEMBER, position)) {
      if (written !== undefined) return undefined;
      const start = position + FULL_DOCUMENT_MEMBER.length - 1;
      const document = writeDocument(text, start);
      if (document === undefined) return undefined;
      written = { text: document.text, start, end: document.end };
      position = document.end;
    } else {
      position = memberEnd(text, position);
    }
    const next = text.charCodeAt(position);
    if (next === 0x7d) return written;
    if (next !== 0x2c) return undefined;
    position++;
  }
}

/** A string literal, escapes and all (its contents are checked when parsed). */
const STRING_LITERAL = /"[^"\\]*(?:\\.[^"\\]*)*"/y;

/** The index past the member (name, colon, value) at `at`; the text is checked when parsed, this only finds its end. */
function memberEnd(text: string, at: number): number {
  let position = at;
  let depth = 0;
  for (;;) {
    const code = text.charCodeAt(position);
    if (Number.isNaN(code)) return position;
    if (code === 0x22) {
      STRING_LITERAL.lastIndex = position;
      if (!STRING_LITERAL.test(text)) return text.length;
      position = STRING_LITERAL.lastIndex;
      continue;
    }
    if (code === 0x7b || code === 0x5b) depth++;
    else if (code === 0x7d || code === 0x5d) {
      if (depth === 0) return position;
      depth--;
    } else if (code === 0x2c && depth === 0) return position;
    position++;
  }
}

/**
 * The value's change event, checked. `keyJson` is the canonical text of the record's key ('parsed'), or the key's
 * text as it is ('unparsed'): then undefined unless it equals the documentKey's canonical text.
 */
function decodeEvent(text: string, keyJson: string, key: 'parsed' | 'unparsed', documentWritten = false): DecodedChangeEvent | undefined {
  const value = parseExtendedJson(text, 'value');
  if (!isDocument(value)) return malformed('value is not an Extended JSON document');
  // A written document's place holds null in the text parsed; the event leaves it out rather than say null.
  const { _cdc: cdc, ...event } = documentWritten ? withoutFullDocument(value) : value;
  if (cdc === undefined) return malformed('value has no _cdc metadata');
  if (!isDocument(cdc)) return malformed('_cdc is not a document');
  const formatVersion = integerOf(cdc.v);
  if (formatVersion === undefined || !READABLE_FORMAT_VERSIONS.includes(formatVersion)) {
    return malformed(`_cdc.v is ${canonical(cdc.v)}; this reader understands ${READABLE_FORMAT_VERSIONS.join(' and ')}`);
  }
  const ordinal = integerOf(cdc.ordinal);
  if (ordinal === undefined || ordinal < 0 || ordinal > MAX_ORDINAL) {
    return malformed(`_cdc.ordinal is ${canonical(cdc.ordinal)}, not an integer from 0 to ${MAX_ORDINAL}`);
  }
  if (cdc.trimmed !== undefined && cdc.trimmed !== true) return malformed(`_cdc.trimmed is ${canonical(cdc.trimmed)}; only true or absent`);
  if (cdc.snapshot !== undefined && typeof cdc.snapshot !== 'string') return malformed(`_cdc.snapshot is ${canonical(cdc.snapshot)}, not a string`);

  const operationType = event.operationType;
  if (operationType === undefined) return malformed('value has no operationType');
  if (typeof operationType !== 'string') return malformed(`operationType is ${canonical(operationType)}, not a string`);
  if (!isOperationType(operationType)) return malformed(`operationType "${operationType}" is not a known change event type`);
  if (!isTimestamp(event.clusterTime)) return malformed('clusterTime is missing or not a Timestamp');
  const namespace = namespaceOf(event.ns);
  if (namespace === 'invalid') return malformed('ns is not a document with a string db (and, if present, a string coll)');

  let documentKeyJson = keyJson;
  if (DOCUMENT_OPERATIONS.has(operationType)) {
    if (!isDocument(event.documentKey)) return malformed(`${operationType} event has no documentKey document`);
    documentKeyJson = canonical(event.documentKey);
    // The key decides the partition, so a key that names another document would break per-document order.
    if (documentKeyJson !== keyJson) return key === 'unparsed' ? undefined : malformed('key does not match the documentKey in the value');
  } else if (key === 'unparsed') {
    return undefined; // about a collection or database: keyed by its namespace, which only the parsed key gives
  }
  // null is what the server sends when an update lookup finds the document already gone.
  if (event.fullDocument !== undefined && event.fullDocument !== null && !isDocument(event.fullDocument)) {
    return malformed('fullDocument is present but not a document');
  }

  return {
    tombstone: false,
    event: event as unknown as ChangeStreamDocument,
    version: positionAt(event.clusterTime, ordinal),
    namespace,
    documentKeyJson,
    trimmed: cdc.trimmed === true,
    ...(typeof cdc.snapshot === 'string' ? { snapshot: cdc.snapshot } : {}),
  };
}
