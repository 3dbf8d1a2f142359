import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { MongoClient } from 'mongodb';
import type { StreamConfig } from './relay-config';
import { MongoChunkReader } from './snapshot-reader';
import { snapshotNamespaces, splitNamespace } from './snapshot-scope';
import type { SnapshotDeps } from './snapshot-step';
import { DynamoSnapshotStore } from './snapshot-store';

/** The snapshot step wired to a stream's MongoDB and the control table, as the handler and the local runtime use it. */
export function mongoSnapshotDeps(client: MongoClient, stream: StreamConfig, dynamo: DynamoDBClient, controlTable: string): SnapshotDeps {
  return {
    store: new DynamoSnapshotStore(dynamo, controlTable),
    reader: new MongoChunkReader(client, stream),
    namespaces: (only) => snapshotNamespaces(client, stream, only),
    estimatedCount: (namespace) => {
      const [db, coll] = splitNamespace(namespace);
      return client.db(db).collection(coll).estimatedDocumentCount();
    },
  };
}
