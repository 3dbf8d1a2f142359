import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { localKafka } from '../test/support/local-clients';
import { RecordingLogger } from '../test/support/recording-logger';
import { uniqueName } from '../test/support/unique-name';
import { CdcError } from './errors';
import { parseTopicEnv, TopicProvisioner } from './topic-provisioner';

describe('TopicProvisioner against the local Kafka', () => {
  const kafka = localKafka('topic-provisioner-test');
  const created: string[] = [];
  const provisioners: TopicProvisioner[] = [];
  const provisioner = (env: NodeJS.ProcessEnv) => {
    const made = new TopicProvisioner(async () => kafka, parseTopicEnv(env), new RecordingLogger());
    provisioners.push(made);
    return made;
  };
  afterAll(async () => {
    await Promise.all(provisioners.map((made) => made.close()));
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates missing topics with the configured partitions and min.insync.replicas, ready to take records at once', async () => {
    // Prepare
    const topics = [uniqueName('provisioned-a'), uniqueName('provisioned-b')];
    created.push(...topics);
    const topicsOf = provisioner({ KAFKA_TOPIC_PARTITIONS: '4', KAFKA_TOPIC_MIN_INSYNC_REPLICAS: '1' });
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    const sent: string[] = [];

    // Act: the guard sees the topics first; the producer (no retries, no auto-creation) must find them served.
    const guarded = topicsOf.guard({
      send: async (records: ReadonlyArray<{ topic: string }>) => {
        for (const record of records) {
          await producer.send({ topic: record.topic, acks: -1, messages: [{ key: 'k', value: 'v' }] });
          sent.push(record.topic);
        }
      },
    });
    await guarded.send(topics.map((topic) => ({ topic })));
    const again = await topicsOf.ensure(topics);
    await producer.disconnect();

    // Assess
    expect(sent).toEqual(topics);
    expect(again).toEqual([]);
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas'] })),
    });
    await admin.disconnect();
    expect(metadata.topics.map((topic) => topic.partitions.length)).toEqual([4, 4]);
    expect(configs.resources.map((resource) => resource.configEntries[0]?.configValue)).toEqual(['1', '1']);
  });

  it('fails fast with TOPIC_MISSING and counts it when creation is not allowed, producing nothing', async () => {
    // Prepare
    const topic = uniqueName('never-created');
    const topicsOf = provisioner({ KAFKA_TOPIC_CREATION: 'require' });
    let missing = 0;
    let produced = 0;
    const guarded = topicsOf.guard({ send: async () => void produced++ }, () => missing++);

    // Act
    const failure = await guarded.send([{ topic }]).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(CdcError);
    expect((failure as CdcError).code).toBe('TOPIC_MISSING');
    expect((failure as CdcError).message).toContain(topic);
    expect(missing).toBe(1);
    expect(produced).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    const listed = await admin.listTopics();
    await admin.disconnect();
    expect(listed).not.toContain(topic);
  });

  it('lets several starts create the same topics at once', async () => {
    const topic = uniqueName('contended');
    created.push(topic);
    const results = await Promise.all([1, 2, 3].map(() => provisioner({}).ensure([topic])));
    expect(results.flat().every((name) => name === topic)).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    expect(offsets).toHaveLength(3);
  });
});
