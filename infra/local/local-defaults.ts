import { endpoints } from '../stack/endpoints';

/**
 * The settings of the local pipeline, in one place for `npm start` and `npx mongo-cdc`: every variable named as in AWS,
 * so a run is pointed at other services by exporting the same names. The demo streams watch shop.customers and
 * shop.orders, one collection each, which every MongoDB (and the stand-in) can serve. Service addresses are the local
 * stack's (its port variables apply); read them only after the stack was asked to start, never before: a filled-in
 * address would make the stack take it for the user's own service.
 */
export const LOCAL_CONTROL_TABLE = 'mongo-cdc-local-control';

export function localDefaults(): Record<string, string> {
  return {
    CDC_STREAMS: JSON.stringify([
      { id: 'shop-customers', database: 'shop', collection: 'customers' },
      { id: 'shop-orders', database: 'shop', collection: 'orders' },
    ]),
    CONTROL_TABLE: LOCAL_CONTROL_TABLE,
    REPORTING_TABLE: 'mongo-cdc-local-reporting',
    MONGODB_URI: endpoints.mongodbUri(),
    KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
    KAFKA_AUTH: 'none',
    DYNAMODB_ENDPOINT: endpoints.dynamodb(),
    OPENSEARCH_URL: endpoints.opensearch(),
    AWS_REGION: 'us-east-1',
    // DynamoDB Local accepts any keys; real ones in the environment are never overridden.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    // The deployed relay's safety margin (infra/serverless/config.js), and EMF metrics off (the status view counts).
    RELAY_SAFETY_MARGIN_MS: '12000',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

const unset = (env: NodeJS.ProcessEnv, name: string) => env[name] === undefined || env[name] === '';

/** The environment with every unset local default filled in, and which variables were filled. Does not modify `env`. */
export function withLocalDefaults(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; defaulted: string[] } {
  const filled: NodeJS.ProcessEnv = { ...env };
  const defaulted: string[] = [];
  for (const [name, value] of Object.entries(localDefaults())) {
    if (unset(env, name)) {
      filled[name] = value;
      defaulted.push(name);
    }
  }
  return { env: filled, defaulted };
}

/**
 * Whether a command talks to the local pipeline: it does unless CONTROL_TABLE names a table, which is what the
 * deployed stage's variables always include. Against a deployed stage nothing is filled in, so a missing setting is
 * reported instead of silently pointing at 127.0.0.1.
 */
export function targetsLocalPipeline(env: NodeJS.ProcessEnv): boolean {
  return unset(env, 'CONTROL_TABLE');
}
