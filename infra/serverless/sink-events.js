// Builds each sink's Kafka event sources from parameters, so one serverless.yml serves Amazon MSK (`msk` events) and
// self-managed Kafka (`kafka` events). Serverless Framework v3 calls this while resolving ${file(...)} variables.
'use strict';

async function param(resolveVariable, name) {
  return String(await resolveVariable(`param:${name}`));
}

module.exports = async ({ resolveVariable }) => {
  const source = await param(resolveVariable, 'kafkaEventSource');
  const topics = (await param(resolveVariable, 'sinkTopics')).split(',').map((topic) => topic.trim()).filter(Boolean);
  const batchSize = Number(await param(resolveVariable, 'sinkBatchSize'));
  const maximumBatchingWindow = Number(await param(resolveVariable, 'sinkBatchingWindowSeconds'));
  if (topics.length === 0) throw new Error('param sinkTopics must name at least one topic');
  if (source !== 'msk' && source !== 'kafka') throw new Error(`param kafkaEventSource must be "msk" or "kafka", got "${source}"`);

  const eventsFor = async (sink) => {
    const consumerGroupId = `mongo-cdc-${await param(resolveVariable, 'stage')}-${sink}`;
    if (source === 'msk') {
      const arn = await param(resolveVariable, 'mskClusterArn');
      return topics.map((topic) => ({
        msk: { arn, topic, batchSize, maximumBatchingWindow, startingPosition: 'TRIM_HORIZON', consumerGroupId },
      }));
    }
    const bootstrapServers = (await param(resolveVariable, 'kafkaBrokers')).split(',');
    const secret = await param(resolveVariable, 'kafkaSecretArn');
    const subnets = (await param(resolveVariable, 'vpcSubnets')).split(',').filter(Boolean);
    const securityGroup = await param(resolveVariable, 'vpcSecurityGroup');
    const accessConfigurations = {
      ...(secret ? { saslScram512Auth: secret } : {}),
      ...(subnets.length ? { vpcSubnet: subnets, vpcSecurityGroup: securityGroup } : {}),
    };
    return topics.map((topic) => ({
      kafka: { accessConfigurations, bootstrapServers, topic, batchSize, maximumBatchingWindow, startingPosition: 'TRIM_HORIZON', consumerGroupId },
    }));
  };
  return { dynamodb: await eventsFor('dynamodb'), opensearch: await eventsFor('opensearch') };
};
