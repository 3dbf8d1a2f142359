import { stackIsAnswering, stackUp } from '../infra/stack/stack';
import { probeMongodb } from '../infra/stack/services/mongodb';
import { endpoints } from '../infra/stack/endpoints';

/**
 * Integration tests run against real services only: start whatever of the local stack is not answering (the first run
 * on a fresh machine downloads artifacts), and leave it running afterwards so the next run starts in seconds.
 */
export default async function setup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (!(await stackIsAnswering())) {
    await stackUp((line) => console.log(`[stack] ${line}`));
  }
  const mongo = await probeMongodb(endpoints.mongodbUri());
  console.log(`[integration] MongoDB under test: ${mongo.detail}`);
}
