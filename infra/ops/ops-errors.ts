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
