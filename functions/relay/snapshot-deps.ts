import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { MongoClient, MongoClientOptions } from 'mongodb';
import type { WorkerEntry } from '../../shared/worker-thread';
import type { StreamConfig } from './relay-config';
import { MongoChunkReader } from './snapshot-reader';
import { snapshotNamespaces, splitNamespace } from './snapshot-scope';
import type { SnapshotDeps } from './snapshot-step';
import { DynamoSnapshotStore } from './snapshot-store';
import { ThreadChunkReader } from './thread-chunk-reader';

/** A reading thread for the snapshot's chunks: its module, and the connection it opens (the stream's own). */
export interface SnapshotReadThread {
  readonly entry: WorkerEntry;
  readonly uri: string;
  readonly clientOptions: MongoClientOptions;
}

/**
 * The snapshot step wired to a stream's MongoDB and the control table, as the handler and the local runtime use it.
 * With `readThread`, chunks are read and encoded on that thread (functions/relay/thread-chunk-reader.ts); the scope and
 * the estimates, a few calls per snapshot, stay on the relay's own client.
 */
export function mongoSnapshotDeps(client: MongoClient, stream: StreamConfig, dynamo: DynamoDBClient, controlTable: string, readThread?: SnapshotReadThread): SnapshotDeps {
  return {
    store: new DynamoSnapshotStore(dynamo, controlTable),
    reader: readThread ? new ThreadChunkReader(readThread.entry, readThread.uri, stream, readThread.clientOptions) : new MongoChunkReader(client, stream),
    namespaces: (only) => snapshotNamespaces(client, stream, only),
    estimatedCount: (namespace) => {
      const [db, coll] = splitNamespace(namespace);
      return client.db(db).collection(coll).estimatedDocumentCount();
    },
  };
}
