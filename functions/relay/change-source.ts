import {
  BSON,
  type ChangeStream,
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Document,
  type MongoClient,
  type MongoClientOptions,
  type ResumeToken,
  Timestamp,
} from 'mongodb';
import type { ResumePoint } from '../../shared/stream-position';
import type { StreamConfig } from './relay-config';

/**
 * How the relay connects to MongoDB, on its main thread and on its read thread alike: one small pool per connection
 * string, reused by warm invocations (the driver reconnects on its own).
 */
export const RELAY_MONGO_CLIENT_OPTIONS: MongoClientOptions = { maxPoolSize: 4, serverSelectionTimeoutMS: 10_000 };

/** The change stream as the relay loop sees it: non-blocking reads and the latest token the server handed out. */
export interface ChangeSource {
  /** The next event, or null when the server had none within the await time (one getMore round trip). */
  tryNext(): Promise<ChangeStreamDocument | null>;
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

export function changeStreamOptions(stream: StreamConfig, resume: ResumePoint, maxAwaitTimeMS: number): ChangeStreamOptions {
  const options: ChangeStreamOptions = {
    maxAwaitTimeMS,
    batchSize: stream.batch.maxEvents,
    // Keep every value as its BSON type (Int32 stays Int32, a regex keeps its options) so the record is exact.
    promoteValues: false,
    promoteLongs: false,
    promoteBuffers: false,
    bsonRegExp: true,
  };
  if (stream.fullDocument !== 'default') options.fullDocument = stream.fullDocument;
  if (stream.fullDocumentBeforeChange !== 'off') options.fullDocumentBeforeChange = stream.fullDocumentBeforeChange;
  switch (resume.kind) {
    case 'resumeAfter':
      options.resumeAfter = resume.token;
      break;
    case 'startAfter':
      options.startAfter = resume.token;
      break;
    case 'startAtOperationTime':
      options.startAtOperationTime = new Timestamp({ t: resume.seconds, i: resume.increment });
      break;
    case 'now':
      break;
  }
  return options;
}

export function openChangeSource(
  client: MongoClient,
  stream: StreamConfig,
  resume: ResumePoint,
  maxAwaitTimeMS: number,
): ChangeSource {
  const pipeline = buildPipeline(stream);
  const options = changeStreamOptions(stream, resume, maxAwaitTimeMS);
  let changeStream: ChangeStream;
  if (stream.database && stream.collection) {
    changeStream = client.db(stream.database).collection(stream.collection).watch(pipeline, options);
  } else if (stream.database) {
    changeStream = client.db(stream.database).watch(pipeline, options);
  } else {
    changeStream = client.watch(pipeline, options);
  }
  return {
    tryNext: () => changeStream.tryNext(),
    get resumeToken() {
      return changeStream.resumeToken ?? undefined;
    },
    close: () => changeStream.close(),
  };
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
