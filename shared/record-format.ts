import { BSON, type ChangeStreamDocument, type Document, Timestamp } from 'mongodb';
import { CdcError } from './errors';
import { type EventVersion, versionOf, versionToSortableString } from './event-version';

/** Bumped only with a migration note: consumers check it before trusting anything else in a record. */
export const FORMAT_VERSION = 1;

const OPERATION_TYPES = new Set([
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
]);
const DOCUMENT_OPERATIONS = new Set(['insert', 'update', 'replace', 'delete']);

export interface EncodedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export interface RecordMeta {
  /** Position among consecutive events sharing one cluster time (see event-version.ts). */
  readonly ordinal: number;
  /** The full document and pre-image were removed because the event was too large to send. */
  readonly trimmed?: boolean;
}

const ejson = (value: unknown) => BSON.EJSON.stringify(value, { relaxed: false });

interface Namespace {
  db: string;
  coll?: string;
}

function namespaceOf(event: Document): Namespace | undefined {
  const ns = event.ns as Partial<Namespace> | undefined;
  if (!ns?.db) return undefined;
  return ns.coll ? { db: ns.db, coll: ns.coll } : { db: ns.db };
}

/**
 * A change event as a Kafka record. Key: the documentKey as canonical Extended JSON (equal keys, one partition, per-
 * document order). Value: the event itself as canonical Extended JSON, so every BSON type round-trips, plus `_cdc`
 * with the format version and the ordinal a consumer needs to compute the version. Headers repeat what routing and
 * tooling want without parsing the value; nothing is only in them.
 */
export function encodeChangeEvent(event: ChangeStreamDocument, meta: RecordMeta): EncodedRecord {
  const document = event as unknown as Document;
  const clusterTime = document.clusterTime;
  if (!(clusterTime instanceof Timestamp)) {
    throw new CdcError('RECORD_MALFORMED', `change event ${ejson(document._id)} has no clusterTime`);
  }
  const namespace = namespaceOf(document);
  const keySource = document.documentKey ?? (namespace ? { ns: namespace } : {});
  const value = { ...document, _cdc: { v: FORMAT_VERSION, ordinal: meta.ordinal, ...(meta.trimmed ? { trimmed: true } : {}) } };
  const headers: Record<string, string> = {
    'cdc-format': String(FORMAT_VERSION),
    'cdc-op': String(document.operationType),
    'cdc-cluster-time': `${clusterTime.high >>> 0}.${clusterTime.low >>> 0}`,
    'cdc-version': versionToSortableString(versionOf(clusterTime, meta.ordinal)),
  };
  if (namespace) headers['cdc-ns'] = namespace.coll ? `${namespace.db}.${namespace.coll}` : namespace.db;
  return { key: Buffer.from(ejson(keySource)), value: Buffer.from(ejson(value)), headers };
}

export type DecodedChangeRecord =
  | {
      readonly tombstone: false;
      readonly event: ChangeStreamDocument;
      readonly version: EventVersion;
      readonly namespace: Namespace | undefined;
      readonly documentKeyJson: string;
      readonly trimmed: boolean;
    }
  | { readonly tombstone: true; readonly documentKeyJson: string };

const malformed = (reason: string): never => {
  throw new CdcError('RECORD_MALFORMED', reason);
};

function parseEjson(bytes: Buffer, what: string): unknown {
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return malformed(`${what} is not JSON: ${(error as Error).message}`);
  }
  try {
    return BSON.EJSON.deserialize(json as Document, { relaxed: false });
  } catch (error) {
    return malformed(`${what} is not valid Extended JSON: ${(error as Error).message}`);
  }
}

/** Canonical Extended JSON brings small numbers back as Int32/Double objects; compare them as numbers. */
function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  const bsonType = (value as { _bsontype?: unknown } | null)?._bsontype;
  if (bsonType === 'Int32' || bsonType === 'Double' || bsonType === 'Long') return Number((value as { valueOf(): unknown }).valueOf());
  return Number.NaN;
}

const isPlainObject = (value: unknown): value is Document =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value as { _bsontype?: unknown })._bsontype;

/** Parses and validates a record of this format; any deviation is a RECORD_MALFORMED error naming what is wrong. */
export function decodeRecord(input: { key: Buffer | null; value: Buffer | null }): DecodedChangeRecord {
  if (input.key === null || input.key.length === 0) return malformed('record has no key');
  const keyDocument = parseEjson(input.key, 'key');
  if (!isPlainObject(keyDocument)) return malformed('key is not an Extended JSON object');
  const documentKeyJson = ejson(keyDocument);
  if (input.value === null) return { tombstone: true, documentKeyJson };

  const event = parseEjson(input.value, 'value');
  if (!isPlainObject(event)) return malformed('value is not an Extended JSON object');
  const cdc = event._cdc as Document | undefined;
  if (!isPlainObject(cdc)) return malformed('value has no _cdc metadata');
  if (numeric(cdc.v) !== FORMAT_VERSION) return malformed(`value has _cdc.v ${ejson(cdc.v)}; this reader understands ${FORMAT_VERSION}`);
  const ordinal = numeric(cdc.ordinal);
  if (!Number.isInteger(ordinal) || ordinal < 0) return malformed(`_cdc.ordinal ${ejson(cdc.ordinal)} is not a non-negative integer`);
  const operationType = event.operationType;
  if (typeof operationType !== 'string') return malformed('value has no operationType');
  if (!OPERATION_TYPES.has(operationType)) return malformed(`operationType "${operationType}" is not a change event type`);
  if (!(event.clusterTime instanceof Timestamp)) return malformed('clusterTime is missing or not a Timestamp');
  if (DOCUMENT_OPERATIONS.has(operationType) && !isPlainObject(event.documentKey)) {
    return malformed(`${operationType} event has no documentKey object`);
  }
  if (event.fullDocument !== undefined && event.fullDocument !== null && !isPlainObject(event.fullDocument)) {
    return malformed('fullDocument is not an object');
  }
  const { _cdc: _meta, ...changeEvent } = event;
  return {
    tombstone: false,
    event: changeEvent as unknown as ChangeStreamDocument,
    version: versionOf(event.clusterTime, ordinal),
    namespace: namespaceOf(event),
    documentKeyJson,
    trimmed: cdc.trimmed === true,
  };
}
