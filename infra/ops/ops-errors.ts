import { CdcError } from '../../shared/errors';

/**
 * A command line the CLI cannot act on (unknown stream, malformed time, missing flag): exit code 2, no service touched.
 * One error family with the product's: a CdcError with code OPERATOR_REQUEST_INVALID, which the shared operator rules
 * (functions/relay/operator-requests.ts) throw too.
 */
export class UsageError extends CdcError {
  constructor(message: string) {
    super('OPERATOR_REQUEST_INVALID', message);
    this.name = 'UsageError';
  }
}

const KAFKA_DENIALS = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
]);
const AWS_DENIALS = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'ExpiredTokenException', 'AccessDenied']);
// MongoDB's Unauthorized and AuthenticationFailed.
const MONGO_DENIALS = new Set([13, 18]);

/**
 * Turns what a service said into an operator's message: which action was refused and where to grant it. `attempted`
 * names the permission and resource ("dynamodb:GetItem on table mongo-cdc-prod-control").
 */
export function explainFailure(error: unknown, attempted: string): Error {
  if (error instanceof CdcError) return error;
  const details = error as { name?: string; type?: string; code?: unknown; message?: string };
  const message = details.message ?? String(error);
  const denied =
    AWS_DENIALS.has(details.name ?? '') ||
    KAFKA_DENIALS.has(details.type ?? '') ||
    details.name === 'KafkaJSSASLAuthenticationError' ||
    (typeof details.code === 'number' && MONGO_DENIALS.has(details.code));
  if (denied) {
    return new CdcError('PERMISSION_DENIED', `permission denied: ${attempted} (${details.name ?? details.type}: ${message})`, {
      cause: error,
    });
  }
  if (details.name === 'ResourceNotFoundException') {
    return new Error(`${attempted} failed: the resource does not exist (${message}); check CONTROL_TABLE and AWS_REGION`, { cause: error });
  }
  return new Error(`${attempted} failed: ${message}`, { cause: error });
}

const CONNECTION_REFUSED = /ECONNREFUSED|KafkaJSConnectionError|Connection error|connect ETIMEDOUT|KafkaJSNumberOfRetriesExceeded|Server selection timed out/i;

/**
 * Says which variable to set, and why, when the environment (not the command line) is what failed: which target the
 * CLI chose (the local pipeline, or a deployed stage because CONTROL_TABLE is set) and what that target still needs.
 */
export function explainEnvironment(error: unknown, local: boolean, env: NodeJS.ProcessEnv): unknown {
  if (error instanceof UsageError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const target = local
    ? 'CONTROL_TABLE is unset, so mongo-cdc uses the local pipeline started by `npm start`'
    : `CONTROL_TABLE=${env.CONTROL_TABLE} is set, so mongo-cdc uses a deployed stage with the variables its functions read`;
  if (error instanceof CdcError && error.code === 'CONFIG_INVALID') {
    return new CdcError('CONFIG_INVALID', `${message}\n(${target})`, { cause: error });
  }
  if (/Region is missing|region="" is not a valid/i.test(message)) {
    return new CdcError('CONFIG_INVALID', `AWS_REGION is not set: ${target}; set AWS_REGION to the region the stage was deployed to`, { cause: error });
  }
  if ((error as { name?: string }).name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new CdcError(
      'CONFIG_INVALID',
      `no AWS credentials found: ${target}; set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the stage's account`,
      { cause: error },
    );
  }
  if (local && CONNECTION_REFUSED.test(`${(error as { name?: string }).name ?? ''} ${message} ${String((error as { cause?: unknown }).cause ?? '')}`)) {
    return new Error(
      `${message}\n(${target}, and it does not answer: start it with \`npm start\` (or \`npm run stack:up\`), or set CONTROL_TABLE, AWS_REGION and the other variables of a deployed stage)`,
      { cause: error },
    );
  }
  if (local && (error as { name?: string }).name === 'ResourceNotFoundException') {
    return new Error(`${message}\n(${target}, which has not created its tables yet: run \`npm start\` once)`, { cause: error });
  }
  return error;
}
