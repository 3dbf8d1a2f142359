import type { MongoClientOptions } from 'mongodb';
import type { PackedRecords } from './record-transfer';
import type { RelayWorkerRole } from './relay-worker';
import type { StreamConfig } from './relay-config';
import type { KeyCursor } from './snapshot-plan';
import type { CopyTarget, ReadPoint } from './snapshot-reader';
import type { EncodedCopies } from './snapshot-records';

/** What the snapshot's reading thread is started with. The connection string is never logged, on either side. */
export interface ChunkReadWorkerData {
  /** relay-worker.ts runs the snapshot's reading thread for this role. */
  readonly role: RelayWorkerRole;
  readonly uri: string;
  readonly stream: StreamConfig;
  readonly clientOptions: MongoClientOptions;
}

type Namespace = { readonly db: string; readonly coll: string };

/** The ChunkReader's calls, as messages to the reading thread. */
export type ChunkReadRequest =
  | { readonly kind: 'readPoint' }
  | { readonly kind: 'hasDocuments'; readonly namespace: Namespace; readonly at: ReadPoint }
  | {
      readonly kind: 'read';
      readonly namespace: Namespace;
      readonly cursor: KeyCursor;
      readonly limit: number;
      readonly at: ReadPoint;
      readonly target: CopyTarget;
      /** The stream's document filter as canonical Extended JSON. */
      readonly filter?: string;
    }
  /** A read point, then the chunk read at it. */
  | {
      readonly kind: 'readFromNow';
      readonly namespace: Namespace;
      readonly cursor: KeyCursor;
      readonly limit: number;
      readonly target: CopyTarget;
      readonly filter?: string;
    }
  /** Connects the thread's client ahead of the first chunk. */
  | { readonly kind: 'connect' }
  /** Closes the thread's client, so its connections end cleanly before the thread does. */
  | { readonly kind: 'close' };

export type ChunkReadReply =
  | { readonly kind: 'readPoint'; readonly at: ReadPoint }
  | { readonly kind: 'hasDocuments'; readonly has: boolean }
  | {
      readonly kind: 'read';
      /** The read point taken for the chunk (readFromNow only). */
      readonly at?: ReadPoint;
      readonly documents: number;
      readonly next: KeyCursor;
      readonly bracketUnsupported?: string;
      readonly counts: Omit<EncodedCopies, 'records'>;
      /** The chunk's records in one transferred buffer (functions/relay/record-transfer.ts). */
      readonly packed: PackedRecords;
    }
  | { readonly kind: 'connect' }
  | { readonly kind: 'close' };
