import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { jarsIn, resolveArtifacts } from '../artifacts';
import { spawnDetached } from '../process-control';
import { bindHost, javaHeap, ports, stateDir } from '../stack-settings';
import { external, endpoints } from '../endpoints';
import type { LocalService, ProbeResult } from './local-service';

const home = resolve(stateDir, 'kafka');
const dataDir = resolve(home, 'data');
const configPath = resolve(home, 'server.properties');
const log4jPath = resolve(home, 'log4j2.properties');

/** Apache Kafka in KRaft mode, one node acting as broker and controller, from Maven Central's kafka_2.13 jars. */
export function kafkaService(): LocalService {
  const port = ports.kafka();
  const controllerPort = ports.kafkaController();
  let jars = '';
  let kafkaVersion = 'unknown';

  return {
    name: 'kafka',
    port,
    address: endpoints.kafkaBrokers().join(','),
    externalVariable: 'KAFKA_BROKERS',
    isExternal: external.kafka(),
    startTimeoutMs: 120_000,

    async prepare(progress) {
      const folder = resolveArtifacts('kafka', progress);
      jars = jarsIn(folder);
      kafkaVersion = /kafka_2\.13-([\d.]+)\.jar/.exec(readdirSync(folder).join(' '))?.[1] ?? 'unknown';
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(configPath, brokerConfig(port.port, controllerPort.port));
      writeFileSync(log4jPath, LOG4J2_CONFIG);
      if (!existsSync(resolve(dataDir, 'meta.properties'))) {
        progress('kafka: formatting KRaft storage');
        execFileSync(
          'java',
          ['-cp', jars, 'kafka.tools.StorageTool', 'format', `--cluster-id=${newClusterId()}`, '-c', configPath, '--ignore-formatted'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
      }
    },

    async spawn() {
      const pid = spawnDetached('kafka', 'java', [
        `-Xms${javaHeap.kafka}`,
        `-Xmx${javaHeap.kafka}`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${log4jPath}`,
        '-cp',
        jars,
        'kafka.Kafka',
        configPath,
      ]);
      return { pid, description: `Apache Kafka ${kafkaVersion} (KRaft, combined broker and controller)` };
    },

    probe: () => probeKafka(endpoints.kafkaBrokers()),
  };
}

export async function probeKafka(brokers: string[]): Promise<ProbeResult> {
  const kafka = new Kafka({
    clientId: 'mongo-cdc-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { answering: true, detail: `cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)` };
  } catch (error) {
    return { answering: false, detail: (error as Error).message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** KRaft cluster ids are 16 random bytes in URL-safe base64 without padding. */
function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

function brokerConfig(port: number, controllerPort: number): string {
  return `# Written by the local stack on every start; edit infra/stack/services/kafka.ts instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${bindHost}:${controllerPort}
listeners=PLAINTEXT://${bindHost}:${port},CONTROLLER://${bindHost}:${controllerPort}
advertised.listeners=PLAINTEXT://${bindHost}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# MSK's default maximum record batch size, so oversize handling behaves locally as it does in AWS.
message.max.bytes=1048588
log.retention.hours=24
log.segment.bytes=67108864
`;
}

const LOG4J2_CONFIG = `status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
`;
