import { BSON, type Document, type MongoClient } from 'mongodb';
import { CdcError } from '../../shared/errors';
import type { StreamConfig } from './relay-config';

/** Databases a deployment-wide stream never copies: MongoDB's own. */
const SYSTEM_DATABASES = new Set(['admin', 'local', 'config']);

const matches = (patterns: readonly string[] | undefined, db: string, coll: string) =>
  (patterns ?? []).some((pattern) => pattern === db || pattern === `${db}.${coll}`);

/** Whether the stream's namespace filters let "db.coll" through, as the change stream's `$match` on `ns` does. */
export function inScope(stream: StreamConfig, db: string, coll: string): boolean {
  if (stream.database && stream.database !== db) return false;
  if (stream.collection && stream.collection !== coll) return false;
  if (stream.includeNamespaces?.length && !matches(stream.includeNamespaces, db, coll)) return false;
  return !matches(stream.excludeNamespaces, db, coll);
}

/**
 * The collections a snapshot of this stream copies, sorted: the stream's one collection, or every collection (not
 * views, not system.*) of its database or of the deployment, through the include/exclude filters. `only` narrows it to
 * one namespace, which must be in scope.
 */
export async function snapshotNamespaces(client: MongoClient, stream: StreamConfig, only?: string): Promise<string[]> {
  let namespaces: string[];
  if (stream.database && stream.collection) {
    namespaces = [`${stream.database}.${stream.collection}`];
  } else {
    const databases = stream.database
      ? [stream.database]
      : (await client.db('admin').admin().listDatabases({ nameOnly: true })).databases
          .map((database) => database.name)
          .filter((name) => !SYSTEM_DATABASES.has(name));
    namespaces = [];
    for (const db of databases) {
      const collections = await client.db(db).listCollections({}, { nameOnly: false }).toArray();
      for (const collection of collections) {
        if ((collection.type ?? 'collection') !== 'collection' || collection.name.startsWith('system.')) continue;
        namespaces.push(`${db}.${collection.name}`);
      }
    }
  }
  namespaces = namespaces.filter((namespace) => inScope(stream, ...splitNamespace(namespace))).sort();
  if (only === undefined) return namespaces;
  const [db, coll] = splitNamespace(only);
  if (!inScope(stream, db, coll)) {
    throw new CdcError('CONFIG_INVALID', `namespace "${only}" is not watched by stream "${stream.id}"`);
  }
  return [only];
}

export function splitNamespace(namespace: string): [string, string] {
  const dot = namespace.indexOf('.');
  if (dot <= 0 || dot === namespace.length - 1) {
    throw new CdcError('CONFIG_INVALID', `namespace "${namespace}" must be "db.collection"`);
  }
  return [namespace.slice(0, dot), namespace.slice(dot + 1)];
}

const DOCUMENT_PREFIX = 'fullDocument.';

/**
 * The part of the stream's pipeline a snapshot can apply to documents: `$match` stages whose every condition is on
 * `fullDocument.<field>` become the same condition on `<field>`. Everything else (conditions on `operationType`,
 * `ns`, `updateDescription`, `$or` across them, `$project`, `$addFields`...) is about change events and is listed in
 * `notApplied`, so the relay can say so once per snapshot.
 */
export function snapshotDocumentFilter(stream: StreamConfig): { filter?: Document; notApplied: string[] } {
  const conditions: Document[] = [];
  const notApplied: string[] = [];
  for (const stage of stream.pipeline) {
    const parsed = BSON.EJSON.deserialize(stage, { relaxed: false }) as Document;
    const match = parsed.$match as Document | undefined;
    const keys = match ? Object.keys(match) : [];
    if (match && keys.length > 0 && keys.every((key) => key.startsWith(DOCUMENT_PREFIX))) {
      conditions.push(Object.fromEntries(keys.map((key) => [key.slice(DOCUMENT_PREFIX.length), match[key]])));
    } else {
      notApplied.push(Object.keys(parsed)[0] ?? '(empty stage)');
    }
  }
  if (conditions.length === 0) return { notApplied };
  return { filter: conditions.length === 1 ? conditions[0] : { $and: conditions }, notApplied };
}
