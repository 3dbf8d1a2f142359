import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Producer } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import type { Logger } from '../../shared/logger';
import type { Metrics } from '../../shared/metrics';
import { openChangeSource, serverOperationTime } from './change-source';
import type { CheckpointStore } from './checkpoint-store';
import { KafkaRecordProducer } from './record-producer';
import type { ReadThread } from './read-thread';
import type { RelayEnv, StreamConfig } from './relay-config';
import type { RelayDeps, RelayLimits } from './relay-stream';
import { mongoSnapshotDeps, type SnapshotReadThread } from './snapshot-deps';

export interface RelayParts {
  readonly store: CheckpointStore;
  /** Asked for at the first send only: nothing connects to Kafka before the lease is held and there is a batch. */
  readonly producer: () => Promise<Producer>;
  readonly mongo: MongoClient;
  /** Reads the change stream on a worker thread with its own client for the same deployment; without it, `mongo` does. */
  readonly readThread?: ReadThread | undefined;
  readonly stream: StreamConfig;
  /** The largest request the producer may send (the broker's message.max.bytes). */
  readonly maxRequestBytes: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  /** The control table the snapshot progress and requests live in; without it the relay takes no snapshots. */
  readonly control?: { readonly dynamo: DynamoDBClient; readonly table: string };
  /** Where snapshot chunks are read and encoded off the producing thread (SNAPSHOT_READ_THREAD); else on it. */
  readonly snapshotReadThread?: SnapshotReadThread;
}

/** The relay's collaborators, built one way for the handler, the test harness and the benchmarks. */
export function relayDeps(parts: RelayParts): RelayDeps {
  const { mongo, stream, readThread } = parts;
  // maxAwaitTimeMS 0 would mean "server default"; the smallest wait keeps a maxWaitMs of 0 meaning "do not wait".
  const maxAwaitTimeMS = stream.batch.maxWaitMs || 1;
  return {
    store: parts.store,
    producer: new KafkaRecordProducer(parts.producer, parts.maxRequestBytes),
    openSource: readThread
      ? (resume) => readThread.openSource(stream, resume, maxAwaitTimeMS)
      : (resume) => openChangeSource(mongo, stream, resume, maxAwaitTimeMS),
    serverTime: () => serverOperationTime(mongo),
    logger: parts.logger,
    metrics: parts.metrics,
    ...(parts.now ? { now: parts.now } : {}),
    ...(parts.control ? { snapshots: mongoSnapshotDeps(mongo, stream, parts.control.dynamo, parts.control.table, parts.snapshotReadThread) } : {}),
  };
}

/** The relay's limits as the deployed function reads them from its environment. */
export function relayLimits(env: Pick<RelayEnv, 'KAFKA_MAX_MESSAGE_BYTES' | 'RELAY_IDLE_CHECKPOINT_MS' | 'RELAY_SAFETY_MARGIN_MS' | 'RELAY_LEASE_GRACE_MS'>): RelayLimits {
  return {
    maxRecordBytes: env.KAFKA_MAX_MESSAGE_BYTES,
    idleCheckpointMs: env.RELAY_IDLE_CHECKPOINT_MS,
    safetyMarginMs: env.RELAY_SAFETY_MARGIN_MS,
    leaseGraceMs: env.RELAY_LEASE_GRACE_MS,
  };
}
