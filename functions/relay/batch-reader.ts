import type { ResumeToken } from 'mongodb';
import type { StreamPosition } from '../../shared/stream-position';
import { eventToken } from './change-event-fields';
import { ChangeEncoder } from './change-records';
import type { ChangeSource } from './change-source';
import type { OutgoingRecord } from './record-producer';
import type { StreamConfig } from './relay-config';

/** Records read from the change stream, ready to produce; `last` is where the checkpoint moves once Kafka has them. */
export interface ChangeBatch {
  records: OutgoingRecord[];
  events: number;
  bytes: number;
  deadLettered: number;
  trimmed: number;
  last?: { token: ResumeToken; position: StreamPosition | undefined; invalidate: boolean };
}

/** An event that went to the dead-letter topic, for the relay's log. */
export interface DeadLetterNote {
  readonly code: string;
  readonly reason: string;
  readonly operationType: string;
}

/** A batch and the events of it that were dead-lettered. */
export interface ReadBatch {
  readonly batch: ChangeBatch;
  readonly deadLetters: readonly DeadLetterNote[];
}

/** What a batch read needs to know besides the stream: where the ordinals continue, and when reading must stop. */
export interface BatchRequest {
  /** The position of the event before the batch's first (ordinals continue from it). */
  readonly from: StreamPosition | undefined;
  /** Wall-clock time (Date.now) after which no further event is read: the invocation's budget less its safety margin. */
  readonly readUntil: number;
  /** Records larger than this are handled by the oversize policy. */
  readonly maxRecordBytes: number;
}

/**
 * A change stream that reads and encodes whole batches itself, off the relay's thread (functions/relay/read-thread.ts).
 * Its batches are bounded exactly as `readChangeBatch` bounds them.
 */
export interface BatchSource {
  readonly thread: 'worker';
  readBatch(request: BatchRequest): Promise<ReadBatch>;
  /** The newest resume token as of the last batch read (the server's post-batch token when it was quiet). */
  readonly resumeToken: ResumeToken | undefined;
  close(): Promise<void>;
}

export interface BatchClock {
  readonly now: () => number;
  /** False once only the safety margin is left: no new read starts. */
  readonly hasTime: () => boolean;
}

/**
 * Reads one bounded batch: it closes at maxEvents, at maxBytes, maxWaitMs after its first event, at an invalidate
 * (the stream ends there), or when the time budget runs out. Returns an empty batch after one quiet getMore.
 */
export async function readChangeBatch(
  source: ChangeSource,
  stream: StreamConfig,
  maxRecordBytes: number,
  startPosition: StreamPosition | undefined,
  clock: BatchClock,
): Promise<ReadBatch> {
  const { now } = clock;
  const batch: ChangeBatch = { records: [], events: 0, bytes: 0, deadLettered: 0, trimmed: 0 };
  const deadLetters: DeadLetterNote[] = [];
  const encoder = new ChangeEncoder(stream, maxRecordBytes);
  let position = startPosition;
  let firstAt: number | undefined;
  let last: { event: Buffer; position: StreamPosition | undefined; invalidate: boolean } | undefined;
  while (batch.events < stream.batch.maxEvents && batch.bytes < stream.batch.maxBytes && clock.hasTime()) {
    if (firstAt !== undefined && now() - firstAt >= stream.batch.maxWaitMs) break;
    const askedAt = now();
    const event = await source.tryNext();
    if (event === null) {
      if (batch.events === 0) {
        // A server that does not honour maxAwaitTimeMS answers at once; do not spin on it.
        if (now() - askedAt < 20) await new Promise((resolve) => setTimeout(resolve, 50));
        return { batch, deadLetters };
      }
      continue;
    }
    firstAt ??= now();
    const encoded = encoder.encode(event, position);
    position = encoded.position;
    for (const record of encoded.records) batch.records.push(record);
    batch.events++;
    batch.bytes += encoded.bytes;
    if (encoded.deadLettered) {
      batch.deadLettered++;
      deadLetters.push({ code: encoded.deadLettered.code, reason: encoded.deadLettered.reason, operationType: String(encoded.operationType) });
    }
    if (encoded.trimmed) batch.trimmed++;
    const invalidate = encoded.operationType === 'invalidate';
    last = { event, position, invalidate };
    if (invalidate) break;
  }
  // Only the batch's last token is kept (the checkpoint's), so only that one is decoded.
  if (last) batch.last = { token: eventToken(last.event) as ResumeToken, position: last.position, invalidate: last.invalidate };
  return { batch, deadLetters };
}
