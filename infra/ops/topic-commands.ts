import { deadLetterTopicOf, topicsOfStream } from '../../shared/topic-naming';
import { parseTopicEnv, TopicProvisioner } from '../../shared/topic-provisioner';
import type { OpsContext } from './ops-context';
import { explainFailure } from './ops-errors';

export interface TopicsOutcome {
  readonly created: string[];
  readonly existing: string[];
  /** Streams watching a database or deployment write one topic per collection, known only when it first changes. */
  readonly perCollection: string[];
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Creates every topic the configuration names up front (each collection stream's topic, the relay's and the sinks'
 * dead-letter topics), for clusters that do not auto-create topics, with the same settings the relay would use.
 */
export async function createTopics(context: OpsContext): Promise<TopicsOutcome> {
  const streams = context.streams();
  const wanted = new Set<string>([context.sinkDeadLetterTopic()]);
  const perCollection: string[] = [];
  for (const stream of streams) {
    wanted.add(deadLetterTopicOf(stream));
    // Exact names (a collection stream's topic, overrides) are created; a pattern stands for topics not known yet.
    for (const topic of topicsOfStream(stream, stream)) {
      if (typeof topic === 'string') wanted.add(topic);
      else if (!perCollection.includes(stream.id)) perCollection.push(stream.id);
    }
  }
  const provisioner = new TopicProvisioner(() => context.kafka(), { ...parseTopicEnv(context.env), KAFKA_TOPIC_CREATION: 'create' }, quiet);
  try {
    const created = await provisioner.ensure(wanted);
    return { created, existing: [...wanted].filter((topic) => !created.includes(topic)), perCollection };
  } catch (error) {
    throw explainFailure(error, `kafka-cluster:CreateTopic on ${[...wanted].join(', ')}`);
  } finally {
    await provisioner.close();
  }
}

export function renderTopics(outcome: TopicsOutcome): string {
  const lines = [
    ...outcome.created.map((topic) => `created  ${topic}`),
    ...outcome.existing.map((topic) => `exists   ${topic}`),
  ];
  if (outcome.perCollection.length > 0) {
    lines.push(
      `streams ${outcome.perCollection.join(', ')} watch a database or deployment: their topics (one per collection) are created by the relay ` +
        'when it may (KAFKA_TOPIC_CREATION=create), or must be created by hand',
    );
  }
  return lines.join('\n');
}
