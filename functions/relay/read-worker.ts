/*
 * The relay's read thread (a worker thread's module, bundled on its own: see functions/relay/read-thread.ts). It owns
 * a MongoClient for one connection string, reads change-stream batches (getMore and BSON decoding) and encodes their
 * records, and hands each batch over packed into one transferable buffer. It never produces, checkpoints or logs:
 * what to do with a batch, and with a failure, stays with the relay on the main thread.
 */
import { workerData } from 'node:worker_threads';
import { MongoClient } from 'mongodb';
import { serveRequests, type WorkerReply } from '../../shared/worker-thread';
import { readChangeBatch } from './batch-reader';
import { type ChangeSource, openChangeSource, RELAY_MONGO_CLIENT_OPTIONS } from './change-source';
import type { StreamConfig } from './relay-config';
import { type ReadReply, type ReadRequest, type ReadThreadData, resumePointFromThread, tokenToThread } from './read-protocol';
import { packRecords } from './record-transfer';
import { socketErrorAsMongo } from './thread-socket-errors';

const { connectionString } = workerData as ReadThreadData;
const client = new MongoClient(connectionString, RELAY_MONGO_CLIENT_OPTIONS);
const sources = new Map<number, { readonly source: ChangeSource; readonly stream: StreamConfig }>();

function sourceOf(id: number): { readonly source: ChangeSource; readonly stream: StreamConfig } {
  const source = sources.get(id);
  if (!source) throw new Error(`change stream ${id} is not open in the read thread`);
  return source;
}

async function handle(request: ReadRequest): Promise<WorkerReply<ReadReply | null>> {
  switch (request.kind) {
    case 'open': {
      // One change stream per relay stream: one left open by an invocation that never closed it goes first.
      for (const [id, open] of sources) {
        if (open.stream.id === request.stream.id) {
          sources.delete(id);
          await open.source.close().catch(() => undefined);
        }
      }
      const source = openChangeSource(client, request.stream, resumePointFromThread(request.resume), request.maxAwaitTimeMS);
      sources.set(request.id, { source, stream: request.stream });
      return { reply: null };
    }
    case 'read': {
      const { source, stream } = sourceOf(request.id);
      const { batch, deadLetters } = await readChangeBatch(source, stream, request.maxRecordBytes, request.from, {
        now: Date.now,
        hasTime: () => Date.now() < request.readUntil,
      });
      const packed = packRecords(batch.records);
      const token = source.resumeToken;
      const reply: ReadReply = {
        packed,
        events: batch.events,
        bytes: batch.bytes,
        deadLettered: batch.deadLettered,
        trimmed: batch.trimmed,
        deadLetters,
        ...(batch.last ? { last: { token: tokenToThread(batch.last.token), position: batch.last.position, invalidate: batch.last.invalidate } } : {}),
        ...(token ? { resumeToken: tokenToThread(token) } : {}),
      };
      return { reply, transfer: [packed.buffer] };
    }
    case 'connect':
      await client.connect();
      return { reply: null };
    case 'close': {
      const source = sources.get(request.id);
      sources.delete(request.id);
      await source?.source.close();
      return { reply: null };
    }
  }
}

serveRequests<ReadRequest, ReadReply | null>((request) =>
  handle(request).catch((error: unknown) => {
    throw socketErrorAsMongo(error);
  }),
);
