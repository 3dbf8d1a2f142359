// The snapshot's reading thread: reads and encodes chunks with its own MongoDB client, so the relay's main thread only
// produces them and saves progress (functions/relay/thread-chunk-reader.ts starts it). A lean entry: it loads the
// driver and the copy encoder, not the handler with Kafka, the AWS SDK and the configuration schema.
import { workerData } from 'node:worker_threads';
import { BSON, MongoClient } from 'mongodb';
import { serveRequests, type WorkerReply } from '../../shared/worker-thread';
import { packRecords } from './record-transfer';
import { ChunkPrefetch } from './snapshot-prefetch';
import { MongoChunkReader } from './snapshot-reader';
import { socketErrorAsMongo } from './thread-socket-errors';
import type { ChunkReadReply, ChunkReadRequest, ChunkReadWorkerData } from './snapshot-read-protocol';

const { uri, stream, clientOptions } = workerData as ChunkReadWorkerData;
const client = new MongoClient(uri, clientOptions);
const reader = new MongoChunkReader(client, stream);
const prefetch = new ChunkPrefetch(reader);

async function handle(request: ChunkReadRequest): Promise<WorkerReply<ChunkReadReply>> {
  switch (request.kind) {
    case 'readPoint':
      return { reply: { kind: 'readPoint', at: await reader.readPoint() } };
    case 'hasDocuments':
      return { reply: { kind: 'hasDocuments', has: await reader.hasDocuments(request.namespace, request.at) } };
    case 'read':
    case 'readFromNow': {
      // The stream's document filter crosses as canonical Extended JSON: its BSON values would not survive a clone.
      const filter = request.filter === undefined ? undefined : BSON.EJSON.parse(request.filter, { relaxed: false });
      // The next chunk's documents are asked for before this one is encoded (snapshot-prefetch.ts).
      const { at, raw } =
        request.kind === 'read'
          ? await prefetch.readAt(request.namespace, request.cursor, request.limit, request.at, filter, request.filter)
          : await prefetch.readFromNow(request.namespace, request.cursor, request.limit, filter, request.filter);
      const chunk = reader.encode(request.namespace, raw, at, request.target);
      const { records, ...counts } = chunk.encoded;
      const packed = packRecords(records);
      return {
        reply: {
          kind: 'read',
          ...(request.kind === 'readFromNow' ? { at } : {}),
          documents: chunk.documents,
          next: chunk.next,
          ...(chunk.bracketUnsupported !== undefined ? { bracketUnsupported: chunk.bracketUnsupported } : {}),
          counts,
          packed,
        },
        transfer: [packed.buffer],
      };
    }
    case 'connect':
      await client.connect();
      return { reply: { kind: 'connect' } };
    case 'close':
      await prefetch.drop();
      await client.close();
      return { reply: { kind: 'close' } };
  }
}

serveRequests((request: ChunkReadRequest) =>
  handle(request).catch((error: unknown) => {
    throw socketErrorAsMongo(error);
  }),
);
