import type { ChunkReader } from '../../functions/relay/snapshot-reader';

/**
 * The reader with its `read` replaced (to step between a test's reads), every other call passed through: its reading
 * thread still starts early and stops at the end of each invocation. It has no `readFromNow`, so every chunk, a chunk
 * read ahead included, goes through the replaced `read`.
 */
export function withRead(reader: ChunkReader, read: ChunkReader['read']): ChunkReader {
  return {
    readPoint: () => reader.readPoint(),
    hasDocuments: (namespace, at) => reader.hasDocuments(namespace, at),
    read,
    prepare: () => reader.prepare?.(),
    close: () => reader.close?.() ?? Promise.resolve(),
  };
}
