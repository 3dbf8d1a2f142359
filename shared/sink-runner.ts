import type { Producer } from 'kafkajs';
import type { DeadLetterSink } from './dead-letter';
import type { LazyProducer } from './lazy-producer';
import { type LambdaKafkaEvent, recordsOf } from './lambda-kafka-event';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { DocumentTextWriter } from './record-format';
import { DecodingBatch, type PreparedBatch, prepareBatch, type RejectedRecord, type SinkChange } from './sink-batch';
import type { TopicNaming } from './topic-naming';

export interface ApplyOutcome {
  /** Written, or already held at this version or newer (redelivery): either way the store reflects the change. */
  readonly applied: number;
  /** Refused because the store holds a newer version: a stale replay, harmless. Counted within applied. */
  readonly stale: number;
  /** Changes the store refused for good (too large, unmappable); they go to the dead-letter topic. */
  readonly rejected: RejectedRecord[];
  /** Fields the store could not index as they are and kept aside, unsearchable, in the stored document. */
  readonly fieldsNotIndexed?: number;
}

/** A batch as it is decoded (shared/sink-batch.ts DecodingBatch): its changes a slice at a time. */
export interface DecodingFeed {
  /** Decodes up to `count` more records; the changes settled by them. Undefined once the whole batch was handed out. */
  next(count: number): SinkChange[] | undefined;
  /**
   * False for a change handed out that a later record of the batch superseded (the same document under a key written
   * otherwise): the store need not count, retry or dead-letter it. Final once `next` has returned undefined.
   */
  isNewest(change: SinkChange): boolean;
}

/** A reporting store, narrowed to what a sink needs. Throws STORE_UNAVAILABLE when it cannot be written in time. */
export interface ReportingStore {
  apply(changes: readonly SinkChange[], remainingMs: () => number): Promise<ApplyOutcome>;
  /**
   * apply, for a store that writes a batch's first changes while the rest are decoded (OpenSearch's `_bulk`): given
   * the batch undecoded, it decodes it as it goes. The outcome counts the batch's newest changes only, as apply's does.
   */
  applyWhileDecoding?(feed: DecodingFeed, remainingMs: () => number): Promise<ApplyOutcome>;
  /**
   * Writes each upsert's document in the store's own form while the batch is decoded, from the record's text, so the
   * document is never built (changes then carry `documentText`); a store without one gets `document`.
   */
  readonly documentWriter?: DocumentTextWriter;
}

export interface SinkDeps {
  readonly store: ReportingStore;
  readonly deadLetters: DeadLetterSink;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How topics name collections, as the relay names them: shared/topic-naming.ts. */
  readonly topicNamings: readonly TopicNaming[];
  readonly now?: () => number;
}

export interface SinkSummary {
  readonly records: number;
  readonly changes: number;
  readonly applied: number;
  readonly stale: number;
  readonly deadLettered: number;
  readonly fieldsNotIndexed?: number;
  readonly skipped: { tombstones: number; controlEvents: number; withoutDocument: number; superseded: number };
}

/**
 * One invocation of a sink: decode the batch, dead-letter what does not decode, reduce to the newest change per
 * document, apply with versioned writes, dead-letter what the store refuses for good. Any other failure propagates so
 * the event source redelivers the whole batch, which versioned writes make harmless.
 */
export async function runSink(
  sinkName: string,
  event: LambdaKafkaEvent,
  deps: SinkDeps,
  remainingMs: () => number,
): Promise<SinkSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const { logger, metrics } = deps;
  const records = recordsOf(event);
  let applyStarted = now();
  let prepared: PreparedBatch;
  let outcome: ApplyOutcome;
  if (deps.store.applyWhileDecoding) {
    // Decoding overlaps the writes here, so applyMs includes it.
    const batch = new DecodingBatch(records, deps.topicNamings, deps.store.documentWriter);
    let decodingFailure: { error: unknown } | undefined;
    const feed: DecodingFeed = {
      next: (count) => {
        try {
          return batch.next(count);
        } catch (error) {
          decodingFailure = { error };
          throw error;
        }
      },
      isNewest: (change) => batch.isNewest(change),
    };
    try {
      outcome = await deps.store.applyWhileDecoding(feed, remainingMs);
    } catch (error) {
      // A record that failed to decode other than as malformed fails the invocation as it does before any write.
      if (decodingFailure?.error === error) throw error;
      storeFailed(sinkName, deps, undefined, error);
      throw error;
    }
    prepared = batch.result();
    logMalformed(sinkName, logger, prepared);
  } else {
    prepared = prepareBatch(records, deps.topicNamings, deps.store.documentWriter);
    logMalformed(sinkName, logger, prepared);
    applyStarted = now();
    try {
      outcome = await deps.store.apply(prepared.changes, remainingMs);
    } catch (error) {
      storeFailed(sinkName, deps, prepared.changes.length, error);
      throw error;
    }
  }
  const applyMs = now() - applyStarted;
  for (const refused of outcome.rejected) {
    logger.warn({
      event: 'sink.rejected-by-store',
      sink: sinkName,
      topic: refused.record.topic,
      partition: refused.record.partition,
      offset: refused.record.offset,
      reason: refused.reason,
    });
  }

  if (outcome.fieldsNotIndexed) {
    logger.warn({ event: 'sink.fields-not-indexed', sink: sinkName, fields: outcome.fieldsNotIndexed });
    metrics.add('FieldsNotIndexed', 'Count', outcome.fieldsNotIndexed);
  }
  const deadLetters = [...prepared.malformed, ...outcome.rejected];
  try {
    await deps.deadLetters.send(deadLetters);
  } catch (error) {
    metrics.add('DeadLetterErrors', 'Count', 1);
    metrics.flush();
    logger.error({ event: 'sink.dead-letter-failed', sink: sinkName, records: deadLetters.length, error: (error as Error).message });
    throw error;
  }

  const newestClusterTime = prepared.changes.reduce((newest, change) => Math.max(newest, change.clusterTimeMs), 0);
  const applyLatencyMs = newestClusterTime > 0 ? Math.max(0, now() - newestClusterTime) : undefined;
  const summary: SinkSummary = {
    records: prepared.counts.records,
    changes: prepared.changes.length,
    applied: outcome.applied,
    stale: outcome.stale,
    deadLettered: deadLetters.length,
    ...(outcome.fieldsNotIndexed ? { fieldsNotIndexed: outcome.fieldsNotIndexed } : {}),
    skipped: {
      tombstones: prepared.counts.tombstones,
      controlEvents: prepared.counts.controlEvents,
      withoutDocument: prepared.counts.withoutDocument,
      superseded: prepared.counts.superseded,
    },
  };
  logger.info({
    event: 'sink.batch',
    sink: sinkName,
    ...summary,
    applyMs,
    totalMs: now() - started,
    ...(applyLatencyMs !== undefined ? { applyLatencyMs } : {}),
  });
  metrics.add('EventsApplied', 'Count', outcome.applied);
  metrics.add('StaleSkipped', 'Count', outcome.stale);
  metrics.add('DeadLettered', 'Count', deadLetters.length);
  metrics.add('UpdatesWithoutDocument', 'Count', prepared.counts.withoutDocument);
  metrics.add('ControlEventsSkipped', 'Count', prepared.counts.controlEvents);
  if (applyLatencyMs !== undefined) metrics.add('ApplyLatency', 'Milliseconds', applyLatencyMs);
  metrics.flush();
  return summary;
}

function logMalformed(sinkName: string, logger: Logger, prepared: PreparedBatch): void {
  for (const bad of prepared.malformed) {
    logger.warn({
      event: 'sink.malformed-record',
      sink: sinkName,
      topic: bad.record.topic,
      partition: bad.record.partition,
      offset: bad.record.offset,
      reason: bad.reason,
    });
  }
}

function storeFailed(sinkName: string, deps: SinkDeps, changes: number | undefined, error: unknown): void {
  deps.metrics.add('StoreErrors', 'Count', 1);
  deps.metrics.flush();
  deps.logger.error({ event: 'sink.store-failed', sink: sinkName, ...(changes !== undefined ? { changes } : {}), error: (error as Error).message });
}

/**
 * A sink's dead-letter path that connects to Kafka only when a batch has something to dead-letter, so a producer-side
 * hiccup cannot fail a batch with nothing to dead-letter. A failed send drops the connection; the next one reconnects.
 */
export function lazyDeadLetters(producer: LazyProducer, sinkFor: (producer: Producer) => DeadLetterSink): DeadLetterSink {
  return {
    async send(rejected) {
      if (rejected.length === 0) return;
      try {
        await sinkFor(await producer.get()).send(rejected);
      } catch (error) {
        await producer.drop();
        throw error;
      }
    },
  };
}
