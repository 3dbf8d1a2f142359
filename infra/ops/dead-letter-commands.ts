import { randomUUID } from 'node:crypto';
import { createProducer } from '../../shared/kafka-client';
import type { Admin, Producer } from 'kafkajs';
import { deadLetterTopicOf } from '../../shared/topic-naming';
import { DEAD_LETTER_HEADERS } from '../../shared/dead-letter';
import type { OpsContext } from './ops-context';
import { explainFailure } from './ops-errors';
import { type PartitionRange, readRanges, retainedRanges, type TopicRecord } from './topic-reader';

export interface DeadLetterEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly at: string;
  readonly code: string;
  readonly reason: string;
  /** The sink that refused it, or the relay stream whose event was too large. */
  readonly from: string;
  readonly source?: { topic: string; partition: number; offset: number };
  readonly key: string | null;
  readonly valueBytes: number;
}

export interface DeadLetterTopicListing {
  readonly topic: string;
  readonly exists: boolean;
  readonly retained: number;
  readonly entries: DeadLetterEntry[];
}

/** Group whose committed offsets mark how far `dlq replay` has re-driven each dead-letter topic. */
export const REPLAY_GROUP = 'mongo-cdc-dlq-replay';

/** The relay's dead-letter topics (one per configured stream) and the sinks' one, unless the operator names one. */
export function deadLetterTopics(context: OpsContext, topic: string | undefined): string[] {
  if (topic) return [topic];
  const relayTopics = context.env.CDC_STREAMS ? context.streams().map((stream) => deadLetterTopicOf(stream)) : [];
  return [...new Set([...relayTopics, context.sinkDeadLetterTopic()])];
}

function entryOf(record: TopicRecord): DeadLetterEntry {
  const header = (name: string) => record.headers[name];
  const sourceTopic = header(DEAD_LETTER_HEADERS.sourceTopic);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    at: new Date(Number(record.timestamp)).toISOString(),
    code: header(DEAD_LETTER_HEADERS.code) ?? 'UNKNOWN',
    reason: header(DEAD_LETTER_HEADERS.reason) ?? '(no reason header: not written by mongo-cdc)',
    from: header(DEAD_LETTER_HEADERS.sink) ? `sink ${header(DEAD_LETTER_HEADERS.sink)}` : `relay stream ${header(DEAD_LETTER_HEADERS.stream) ?? '?'}`,
    ...(sourceTopic
      ? {
          source: {
            topic: sourceTopic,
            partition: Number(header(DEAD_LETTER_HEADERS.sourcePartition)),
            offset: Number(header(DEAD_LETTER_HEADERS.sourceOffset)),
          },
        }
      : {}),
    key: record.key === null ? null : record.key.toString('utf8'),
    valueBytes: record.value?.length ?? 0,
  };
}

async function withAdmin<T>(context: OpsContext, attempted: string, work: (admin: Admin) => Promise<T>): Promise<T> {
  let admin: Admin | undefined;
  try {
    admin = (await context.kafka()).admin();
    await admin.connect();
    return await work(admin);
  } catch (error) {
    throw explainFailure(error, attempted);
  } finally {
    await admin?.disconnect().catch(() => undefined);
  }
}

/** The newest `limit` dead letters of each topic (per partition), without consuming anything. */
export async function listDeadLetters(context: OpsContext, topic: string | undefined, limit: number): Promise<DeadLetterTopicListing[]> {
  const listings: DeadLetterTopicListing[] = [];
  for (const name of deadLetterTopics(context, topic)) {
    const ranges = await withAdmin(context, `describe Kafka topic ${name}`, (admin) => retainedRanges(admin, name));
    if (!ranges) {
      listings.push({ topic: name, exists: false, retained: 0, entries: [] });
      continue;
    }
    const newest = ranges.map((range) => ({ ...range, from: Math.max(range.from, range.to - limit) }));
    const groupId = `mongo-cdc-dlq-list-${randomUUID()}`;
    const records = await readRanges(await context.kafka(), groupId, name, newest).catch((error: unknown) =>
      Promise.reject(explainFailure(error, `kafka-cluster:ReadData on topic ${name} (group ${groupId})`)),
    );
    await withAdmin(context, `delete consumer group ${groupId}`, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
    listings.push({
      topic: name,
      exists: true,
      retained: ranges.reduce((sum, range) => sum + range.to - range.from, 0),
      entries: records.map(entryOf),
    });
  }
  return listings;
}

export interface ReplayOutcome {
  readonly topic: string;
  readonly redriven: number;
  readonly skipped: ReadonlyArray<{ offset: string; partition: number; reason: string }>;
  readonly dryRun: boolean;
}

const DEAD_LETTER_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));

/** Why a dead letter cannot go back to its source topic as it is, or undefined when it can. */
function unreplayable(entry: DeadLetterEntry, record: TopicRecord, includeMalformed: boolean): string | undefined {
  if (!entry.source) return 'relay dead letter: it holds the oversize event\'s metadata, not the event; re-relay with "replay --from" after raising the size limit or choosing oversize "trim"';
  if (record.value === null) return 'no value to re-drive';
  if (entry.code === 'RECORD_MALFORMED' && !includeMalformed) {
    return 'malformed record: it would fail the same way again (pass --include-malformed once its producer is fixed)';
  }
  return undefined;
}

/**
 * Sends the dead letters each sink refused back to their source topics, byte for byte and in their original order,
 * so the sinks apply them again (their versioned writes keep this idempotent). Progress is committed under one group,
 * so a second run re-drives only what was dead-lettered since; --dry-run reports without sending or committing.
 */
export async function replayDeadLetters(
  context: OpsContext,
  options: { topic?: string | undefined; dryRun: boolean; includeMalformed: boolean; fromStart?: boolean },
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const topic of deadLetterTopics(context, options.topic)) {
    const pending = await withAdmin(context, `describe topic ${topic} and group ${REPLAY_GROUP}`, async (admin) => {
      const retained = await retainedRanges(admin, topic);
      if (!retained) return [];
      const [committed] = await admin.fetchOffsets({ groupId: REPLAY_GROUP, topics: [topic] });
      // --from-start looks again at what earlier runs re-drove or skipped (a malformed record whose producer is fixed).
      const done = new Map(
        options.fromStart ? [] : (committed?.partitions ?? []).map((partition) => [partition.partition, Number(partition.offset)]),
      );
      return retained.map((range): PartitionRange => ({ ...range, from: Math.max(range.from, done.get(range.partition) ?? -1) }));
    });
    const records = await readRanges(await context.kafka(), REPLAY_GROUP, topic, pending).catch((error: unknown) =>
      Promise.reject(explainFailure(error, `kafka-cluster:ReadData on topic ${topic} (group ${REPLAY_GROUP})`)),
    );
    const skipped: Array<{ offset: string; partition: number; reason: string }> = [];
    const bySourceTopic = new Map<string, TopicRecord[]>();
    for (const record of records) {
      const entry = entryOf(record);
      const reason = unreplayable(entry, record, options.includeMalformed);
      if (reason || !entry.source) {
        skipped.push({ partition: record.partition, offset: record.offset, reason: reason ?? 'no source topic' });
        continue;
      }
      const group = bySourceTopic.get(entry.source.topic) ?? [];
      group.push(record);
      bySourceTopic.set(entry.source.topic, group);
    }
    const redriven = [...bySourceTopic.values()].reduce((sum, group) => sum + group.length, 0);
    if (!options.dryRun && records.length > 0) {
      await redrive(context, topic, bySourceTopic);
      await commitProgress(context, topic, pending);
    }
    outcomes.push({ topic, redriven, skipped, dryRun: options.dryRun });
  }
  return outcomes;
}

async function redrive(context: OpsContext, deadLetterTopic: string, bySourceTopic: ReadonlyMap<string, TopicRecord[]>): Promise<void> {
  let producer: Producer | undefined;
  try {
    producer = createProducer(await context.kafka());
    await producer.connect();
    for (const [sourceTopic, records] of bySourceTopic) {
      await producer.send({
        topic: sourceTopic,
        acks: -1,
        messages: records.map((record) => ({
          key: record.key,
          value: record.value,
          headers: {
            ...Object.fromEntries(Object.entries(record.headers).filter(([name]) => !DEAD_LETTER_HEADER_NAMES.has(name))),
            'cdc-redriven-from': `${deadLetterTopic}/${record.partition}/${record.offset}`,
          },
        })),
      });
    }
  } catch (error) {
    throw explainFailure(error, `kafka-cluster:WriteData on ${[...bySourceTopic.keys()].join(', ')}`);
  } finally {
    await producer?.disconnect().catch(() => undefined);
  }
}

async function commitProgress(context: OpsContext, topic: string, ranges: readonly PartitionRange[]): Promise<void> {
  await withAdmin(context, `commit offsets of group ${REPLAY_GROUP} on ${topic}`, (admin) =>
    admin.setOffsets({
      groupId: REPLAY_GROUP,
      topic,
      partitions: ranges.map((range) => ({ partition: range.partition, offset: String(range.to) })),
    }),
  );
}

export function renderDeadLetters(listings: readonly DeadLetterTopicListing[], limit: number): string {
  return listings
    .map((listing) => {
      if (!listing.exists) return `${listing.topic}: no such topic (nothing was dead-lettered there yet)`;
      const lines = [`${listing.topic}: ${listing.retained} retained, newest ${listing.entries.length} shown (at most ${limit} per partition)`];
      for (const entry of listing.entries) {
        const source = entry.source ? ` source ${entry.source.topic}/${entry.source.partition}/${entry.source.offset}` : '';
        lines.push(`  ${entry.partition}/${entry.offset} ${entry.at} ${entry.code} from ${entry.from}${source} key ${entry.key ?? 'null'} (${entry.valueBytes} B)`);
        lines.push(`      ${entry.reason}`);
      }
      return lines.join('\n');
    })
    .join('\n');
}

export function renderReplay(outcomes: readonly ReplayOutcome[]): string {
  return outcomes
    .map((outcome) => {
      const verb = outcome.dryRun ? 'would re-drive' : 're-drove';
      const lines = [`${outcome.topic}: ${verb} ${outcome.redriven}, skipped ${outcome.skipped.length}`];
      for (const skip of outcome.skipped) lines.push(`  skipped ${skip.partition}/${skip.offset}: ${skip.reason}`);
      return lines.join('\n');
    })
    .join('\n');
}
