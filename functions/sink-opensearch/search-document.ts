import { createHash } from 'node:crypto';
import type { Document } from 'mongodb';
import { bsonTypeOf } from '../../shared/bson-value';
import { stringifyCanonical } from '../../shared/canonical-json';

/*
 * How a MongoDB document becomes an OpenSearch/Elasticsearch source document (a JSON projection for search; the
 * record in Kafka stays the exact copy):
 *   string, boolean, null, document, array → as they are
 *   Int32, Double → number; NaN and ±Infinity → null (JSON has neither); Int64 → number when exact (|n| < 2^53),
 *     otherwise a decimal string; Decimal128 → decimal string
 *   Date → ISO-8601 string (OpenSearch maps it as a date); ObjectId → 24 hex digits
 *   Binary → base64 string; Timestamp → { t, i }; regular expression → "/pattern/options"; MinKey/MaxKey → null;
 *   Code → its source text
 * The top-level `_id` becomes `mongo_id` (OpenSearch reserves `_id`), always as text (`mongoIdText`) in a field mapped
 * as a keyword, so a collection whose `_id`s are of several kinds never has them conflict; the index's own id is the
 * documentKey. Negative zero becomes 0: JSON text as the sink writes it has no -0 (the Kafka record keeps it).
 * Fields the index mapping refuses (a type that changed between documents, mixed-type arrays, mapping depth or field
 * limits) are moved under `mongo_unindexed` (mapped `enabled: false`: kept in _source, not searchable), keyed by their
 * dotted path, so the document is indexed and found by all its other fields.
 */
export function toSearchValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toSearchValue);
  if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
  switch (bsonTypeOf(value)) {
    case 'Int32':
    case 'Double':
      return toSearchValue((value as { valueOf(): number }).valueOf());
    case 'Long': {
      const long = value as { toNumber(): number; toString(): string };
      const asNumber = long.toNumber();
      return Number.isSafeInteger(asNumber) ? asNumber : long.toString();
    }
    case 'Decimal128':
      return String(value);
    case 'ObjectId':
      return (value as { toHexString(): string }).toHexString();
    case 'Binary':
      return Buffer.from((value as { buffer: Uint8Array }).buffer).toString('base64');
    case 'Timestamp': {
      const timestamp = value as unknown as { t: number; i: number };
      return { t: timestamp.t, i: timestamp.i };
    }
    case 'BSONRegExp': {
      const regex = value as unknown as { pattern: string; options: string };
      return `/${regex.pattern}/${regex.options}`;
    }
    case 'MinKey':
    case 'MaxKey':
      return null;
    case 'Code':
      return String((value as unknown as { code: string }).code);
    case 'BSONSymbol':
      return String(value);
    case undefined:
      return toSearchObject(value as Document);
    default:
      return String(value);
  }
}

/** `_id` is a metadata field in OpenSearch and Elasticsearch; the document's own id is kept as `mongo_id`. */
export const MONGO_ID_FIELD = 'mongo_id';

function toSearchObject(document: Document): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(document)) {
    if (value !== undefined) result[name] = toSearchValue(value);
  }
  return result;
}

/** Where fields the index mapping refuses are kept, unindexed, by dotted path. */
export const UNINDEXED_FIELD = 'mongo_unindexed';

/** The mappings every index of the sink needs, merged into SINK_INDEX_BODY's own. */
export const REQUIRED_MAPPINGS = {
  properties: {
    [MONGO_ID_FIELD]: { type: 'keyword' },
    [UNINDEXED_FIELD]: { type: 'object', enabled: false },
  },
} as const;

/** An index body (settings, mappings) with the sink's required mappings added. */
export function indexBodyWith(body: Record<string, unknown> | undefined): Record<string, unknown> {
  const mappings = (body?.mappings ?? {}) as { properties?: Record<string, unknown> };
  return { ...body, mappings: { ...mappings, properties: { ...mappings.properties, ...REQUIRED_MAPPINGS.properties } } };
}

/**
 * The `_id` as text, one spelling per MongoDB value: a string as itself, an ObjectId as its 24 hex digits, a number as
 * its decimal value (MongoDB holds 1, 1.0 and 1L as one `_id`), anything else (documents, UUIDs, dates...) as canonical
 * Extended JSON.
 */
export function mongoIdText(id: unknown): string {
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint') return String(id);
  const type = bsonTypeOf(id);
  if (type === 'ObjectId') return (id as { toHexString(): string }).toHexString();
  if (type === 'Int32' || type === 'Double') return String((id as { valueOf(): number }).valueOf());
  if (type === 'Long') return String(id);
  return stringifyCanonical(id);
}

export function toSearchDocument(document: Document): Record<string, unknown> {
  const { _id: id, ...rest } = document;
  return { ...(id !== undefined ? { [MONGO_ID_FIELD]: mongoIdText(id) } : {}), ...toSearchObject(rest) };
}

/**
 * JSON.stringify(toSearchDocument(document)), character for character, written straight from the BSON values: no
 * intermediate document is built, which was a third of the sink's cost of a `_bulk` body. The kinds of values
 * documents are made of are written here; anything else goes through toSearchValue, so it cannot differ. A top-level
 * field that the spread in toSearchDocument would reorder (an index-like name such as "5", which JavaScript puts
 * first) or overwrite (`mongo_id` itself) sends the whole document the general way.
 */
export function searchDocumentJson(document: Document): string {
  let text = '';
  for (const name of Object.keys(document)) {
    if (name === '_id') continue;
    if (name === MONGO_ID_FIELD || isIndexLike(name)) return JSON.stringify(toSearchDocument(document));
    const value = document[name];
    // toSearchObject assigns, so a "__proto__" field becomes the result's prototype, which JSON.stringify leaves out.
    if (value === undefined || name === '__proto__') continue;
    text += `,${JSON.stringify(name)}:${searchJson(value)}`;
  }
  const id = document._id;
  if (id !== undefined) return `{${JSON.stringify(MONGO_ID_FIELD)}:${JSON.stringify(mongoIdText(id))}${text}}`;
  return `{${text.slice(1)}}`;
}

/** A name JavaScript orders before all others in an object: a canonical array index ("0", "17"; not "01" or "-1"). */
function isIndexLike(name: string): boolean {
  const first = name.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return false;
  return String(Number(name)) === name && Number(name) < 2 ** 32 - 1;
}

/** JSON.stringify(toSearchValue(value)) for one value, without building the search value first. */
function searchJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return JSON.stringify(toSearchValue(value)) ?? 'null';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index++) text += (index === 0 ? '' : ',') + searchJson(value[index]);
    return `${text}]`;
  }
  switch (bsonTypeOf(value)) {
    case 'Int32':
    case 'Double': {
      const number: unknown = (value as { valueOf(): unknown }).valueOf();
      if (typeof number !== 'number') break;
      return Number.isFinite(number) ? JSON.stringify(number) : 'null';
    }
    case 'ObjectId':
      return `"${(value as { toHexString(): string }).toHexString()}"`;
    case undefined:
      if (value instanceof Date || value instanceof RegExp || Object.getPrototypeOf(value) !== Object.prototype) break;
      return searchObjectJson(value as Document);
    default:
      break;
  }
  return JSON.stringify(toSearchValue(value)) ?? 'null';
}

/** JSON.stringify(toSearchObject(document)) for a plain object below the top level. */
function searchObjectJson(document: Document): string {
  let text = '';
  for (const name of Object.keys(document)) {
    const value = document[name];
    if (value === undefined || name === '__proto__') continue;
    text += `,${JSON.stringify(name)}:${searchJson(value)}`;
  }
  return `{${text.slice(1)}}`;
}

/**
 * Moves the field at `path` (dots between names) out of the indexed part of `source` into `mongo_unindexed`. Where the
 * path runs through an array, the whole array moves. Returns false when the path names nothing in the document.
 */
export function moveToUnindexed(source: Record<string, unknown>, path: string): boolean {
  const names = path.split('.');
  let parent: Record<string, unknown> = source;
  const walked: string[] = [];
  for (let index = 0; index < names.length; index++) {
    // Field names may themselves hold dots: take the longest run of names that exists here.
    let name: string | undefined;
    let end = names.length;
    for (; end > index; end--) {
      const candidate = names.slice(index, end).join('.');
      if (Object.hasOwn(parent, candidate)) {
        name = candidate;
        break;
      }
    }
    if (name === undefined || (walked.length === 0 && (name === MONGO_ID_FIELD || name === UNINDEXED_FIELD))) return false;
    walked.push(name);
    const value = parent[name];
    const last = end === names.length;
    if (last || value === null || typeof value !== 'object' || Array.isArray(value)) {
      unindexedPart(source)[walked.join('.')] = value;
      delete parent[name];
      return true;
    }
    parent = value as Record<string, unknown>;
    index = end - 1;
  }
  return false;
}

/** The document's non-indexed part, created on first use. */
function unindexedPart(source: Record<string, unknown>): Record<string, unknown> {
  source[UNINDEXED_FIELD] ??= {};
  return source[UNINDEXED_FIELD] as Record<string, unknown>;
}

/** Moves every field but `mongo_id` into `mongo_unindexed`: the last resort when the refusal names no field. */
export function moveAllToUnindexed(source: Record<string, unknown>): number {
  const unindexed = unindexedPart(source);
  let moved = 0;
  for (const name of Object.keys(source)) {
    if (name === MONGO_ID_FIELD || name === UNINDEXED_FIELD) continue;
    unindexed[name] = source[name];
    delete source[name];
    moved++;
  }
  return moved;
}

/** The document as MongoDB had it (in search form), with the unindexed fields put back where they came from. */
export function withUnindexedRestored(source: Record<string, unknown>): Record<string, unknown> {
  const { [UNINDEXED_FIELD]: unindexed, ...rest } = source;
  const restored = structuredClone(rest);
  for (const [path, value] of Object.entries((unindexed ?? {}) as Record<string, unknown>)) {
    const names = path.split('.');
    let parent = restored;
    let index = 0;
    // Rebuild through the objects that exist; what remains of the path is one (dotted) field name.
    while (index < names.length - 1) {
      let matched = false;
      for (let end = names.length - 1; end > index; end--) {
        const candidate = names.slice(index, end).join('.');
        const inner = parent[candidate];
        if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
          parent = inner as Record<string, unknown>;
          index = end;
          matched = true;
          break;
        }
      }
      if (!matched) break;
    }
    parent[names.slice(index).join('.')] = value;
  }
  return restored;
}

const MAX_ID_BYTES = 512;

/**
 * The document id in the index: the documentKey as canonical Extended JSON (so 5, "5" and ObjectId("5…") never
 * collide), or its SHA-256 when longer than the 512 bytes an id may have.
 */
export function searchDocumentId(documentKeyJson: string): string {
  if (Buffer.byteLength(documentKeyJson) <= MAX_ID_BYTES) return documentKeyJson;
  return `sha256:${createHash('sha256').update(documentKeyJson).digest('hex')}`;
}

/** Index names must be lowercase and avoid \ / * ? " < > | , # : and spaces; the template takes {db} and {coll}. */
export function indexName(template: string, namespace: { db: string; coll: string }): string {
  const raw = template.replaceAll('{db}', namespace.db).replaceAll('{coll}', namespace.coll).toLowerCase();
  return raw.replace(/[\\/*?"<>| ,#:]/g, '_').replace(/^[-_+]+/, '');
}
