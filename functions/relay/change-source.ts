import { BSON, type Document, type MongoClient, type MongoClientOptions, type ResumeToken, Timestamp } from 'mongodb';
import type { ResumePoint } from '../../shared/stream-position';
import { RawChangeStream } from './raw-change-stream';
import type { StreamConfig } from './relay-config';

/**
 * How the relay connects to MongoDB, on its main thread and on its read thread alike: one small pool per connection
 * string, reused by warm invocations (the driver reconnects on its own).
 */
export const RELAY_MONGO_CLIENT_OPTIONS: MongoClientOptions = { maxPoolSize: 4, serverSelectionTimeoutMS: 10_000 };

/**
 * The change stream as the relay loop sees it: non-blocking reads of raw events (each event's BSON bytes, as the server
 * sent them) and the latest token the server handed out.
 */
export interface ChangeSource {
  /** The next event's BSON bytes, or null when the server had none within the await time (one getMore round trip). */
  tryNext(): Promise<Buffer | null>;
  /** The newest resume token: the last event's id or the server's post-batch resume token when it was quiet. */
  readonly resumeToken: ResumeToken | undefined;
  close(): Promise<void>;
}

function namespaceFilter(namespaces: readonly string[]): Document[] {
  return namespaces.map((namespace) => {
    const [db, ...rest] = namespace.split('.');
    return rest.length > 0 ? { 'ns.db': db, 'ns.coll': rest.join('.') } : { 'ns.db': db };
  });
}

/** The server-side pipeline: namespace include/exclude first (cheapest), then the user's own stages. */
export function buildPipeline(stream: StreamConfig): Document[] {
  const pipeline: Document[] = [];
  if (stream.includeNamespaces?.length) pipeline.push({ $match: { $or: namespaceFilter(stream.includeNamespaces) } });
  if (stream.excludeNamespaces?.length) pipeline.push({ $match: { $nor: namespaceFilter(stream.excludeNamespaces) } });
  for (const stage of stream.pipeline) pipeline.push(BSON.EJSON.deserialize(stage, { relaxed: false }) as Document);
  return pipeline;
}

/**
 * The `$changeStream` stage's options besides where it starts (the raw stream adds resumeAfter, startAfter or
 * startAtOperationTime): the same options the relay always gave the driver's watch().
 */
export function changeStreamStage(stream: StreamConfig): Document {
  const stage: Document = {};
  if (stream.fullDocument !== 'default') stage.fullDocument = stream.fullDocument;
  if (stream.fullDocumentBeforeChange !== 'off') stage.fullDocumentBeforeChange = stream.fullDocumentBeforeChange;
  return stage;
}

/**
 * The stream's change stream from `resume`: on its collection, its database (`aggregate: 1`), or, without a database,
 * the whole deployment (on admin, allChangesForCluster), as collection.watch(), db.watch() and client.watch() open it.
 */
export function openChangeSource(client: MongoClient, stream: StreamConfig, resume: ResumePoint, maxAwaitTimeMS: number): ChangeSource {
  return new RawChangeStream(
    client,
    { database: stream.database, collection: stream.database ? stream.collection : undefined },
    { stage: changeStreamStage(stream), pipeline: buildPipeline(stream), resume, batchSize: stream.batch.maxEvents, maxAwaitTimeMS },
  );
}

/**
 * The server's latest operation time, so a new stream's "now" is fixed once, in the server's clock. Replica sets (and
 * the local stand-in) report it on every reply; a server that reports none (a standalone node) gets the wall clock less
 * a little, erring towards an event twice, never lost.
 */
export async function serverOperationTime(client: MongoClient): Promise<{ seconds: number; increment: number }> {
  const reply = await client.db('admin').command({ ping: 1 });
  if (reply.operationTime instanceof Timestamp) {
    return { seconds: reply.operationTime.high, increment: reply.operationTime.low };
  }
  return { seconds: Math.floor(Date.now() / 1000) - 2, increment: 0 };
}
