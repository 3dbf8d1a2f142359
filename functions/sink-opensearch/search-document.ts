import { createHash } from 'node:crypto';
import { BSON, type Document } from 'mongodb';

/*
 * How a MongoDB document becomes an OpenSearch/Elasticsearch source document (a JSON projection for search; the
 * record in Kafka stays the exact copy):
 *   string, boolean, null, document, array → as they are
 *   Int32, Double → number; NaN and ±Infinity → null (JSON has neither); Int64 → number when exact (|n| < 2^53),
 *     otherwise a decimal string; Decimal128 → decimal string
 *   Date → ISO-8601 string (OpenSearch maps it as a date); ObjectId → 24 hex digits
 *   Binary → base64 string; Timestamp → { t, i }; regular expression → "/pattern/options"; MinKey/MaxKey → null;
 *   Code → its source text
 * The top-level `_id` becomes `mongo_id` (OpenSearch reserves `_id`); the index's own id is the documentKey. Every
 * `_id` of a collection shares that one field, so an `_id` that would map to an object (a sub-document, a Timestamp)
 * is kept as its canonical Extended JSON text, and new indices map `mongo_id` as a keyword (see opensearch-store.ts).
 */
export function toSearchValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toSearchValue);
  if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
  const bson = value as { _bsontype?: string };
  switch (bson._bsontype) {
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

function searchId(id: unknown): unknown {
  const value = toSearchValue(id);
  return value !== null && typeof value === 'object' ? BSON.EJSON.stringify(id as Document, { relaxed: false }) : value;
}

export function toSearchDocument(document: Document): Record<string, unknown> {
  const { _id: id, ...rest } = document;
  return { ...(id !== undefined ? { [MONGO_ID_FIELD]: searchId(id) } : {}), ...toSearchObject(rest) };
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
