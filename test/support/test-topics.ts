import type { Kafka } from 'kafkajs';
import { TopicProvisioner, parseTopicEnv } from '../../shared/topic-provisioner';
import { RecordingLogger } from './recording-logger';

/**
 * Creates topics for a test and returns once every partition is served, through the product's own provisioner: a
 * bare `createTopics({ waitForLeaders: true })` fails on a busy broker that has not yet propagated a new topic
 * ("This server does not host this topic-partition"), though the topic was created.
 */
export async function createServedTopics(kafka: Kafka, topics: readonly string[], numPartitions = 1): Promise<void> {
  const provisioner = new TopicProvisioner(
    async () => kafka,
    { ...parseTopicEnv({}), KAFKA_TOPIC_PARTITIONS: numPartitions, KAFKA_TOPIC_REPLICATION_FACTOR: 1 },
    new RecordingLogger(),
  );
  // A broker restarted by an earlier test may still be electing leaders: its retriable refusals are retried a while.
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      try {
        await provisioner.ensure(topics);
        return;
      } catch (error) {
        if (!(error as Error).name.startsWith('KafkaJS') || Date.now() > deadline) throw error;
        await new Promise((done) => setTimeout(done, 500));
      }
    }
  } finally {
    await provisioner.close();
  }
}
