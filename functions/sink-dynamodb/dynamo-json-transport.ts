import http from 'node:http';
import https from 'node:https';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { SigV4Signer } from './sigv4-signer';

/** A DynamoDB error as the SDK names it (`name` is the exception's short name, e.g. ConditionalCheckFailedException). */
export class DynamoServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'LimitExceededException',
]);
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** How the SDK's retry strategies classify an error (the same rules as its retry middleware, for DynamoDB's errors). */
function retryInfoFor(error: unknown): RetryErrorInfo {
  if (error instanceof DynamoServiceError) {
    if (error.statusCode === 429 || THROTTLING.has(error.name)) return { errorType: 'THROTTLING' };
    if (error.name === 'TransactionInProgressException' || error.statusCode === 502 || error.statusCode === 503 || error.statusCode === 504) {
      return { errorType: 'TRANSIENT' };
    }
    if (error.statusCode !== undefined && error.statusCode >= 500) return { errorType: 'SERVER_ERROR' };
    return { errorType: 'CLIENT_ERROR' };
  }
  const code = (error as { code?: string }).code;
  if ((error as Error).name === 'TimeoutError' || (code !== undefined && TRANSIENT_NETWORK.has(code))) return { errorType: 'TRANSIENT' };
  return { errorType: 'CLIENT_ERROR' };
}

/** JSON for DynamoDB's wire format: binary attribute values (B, BS) travel as base64. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify hands a Buffer to the replacer after its toJSON(); the holder still has the bytes.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

function hasBinary(value: AttributeValue): boolean {
  if (value.B !== undefined || value.BS !== undefined) return true;
  if (value.M) return Object.values(value.M).some(hasBinary);
  if (value.L) return value.L.some(hasBinary);
  return false;
}

/** Serialises a request whose values are AttributeValue maps the way the SDK would put it on the wire. */
export function dynamoJson(request: object, attributes: Record<string, AttributeValue>): string {
  return Object.values(attributes).some(hasBinary) ? JSON.stringify(request, binaryAsBase64) : JSON.stringify(request);
}

interface Endpoint {
  readonly url: URL;
  readonly agent: http.Agent;
  readonly request: typeof http.request;
}

/**
 * Sends DynamoDB JSON-protocol requests with a configured `DynamoDBClient`'s credentials (its provider chain, cached and
 * refreshed by the SDK), region, endpoint rules and retry strategy (standard or adaptive, with its rate limiter), but
 * without the SDK's per-command middleware chain and HTTP layer. Profiling the sink showed that chain (schema
 * serialisation and deserialisation, the logger's sensitive-data filter walking every item, endpoint rule evaluation,
 * user agent, per-command handler construction, request cloning for signing) costing about three times the CPU of
 * the request itself; here a request is one JSON string, SigV4-signed with Node's crypto, written in one socket write
 * on a keep-alive connection.
 */
export class DynamoJsonTransport {
  private readonly signer = new SigV4Signer('dynamodb');
  private endpoint: Promise<Endpoint> | undefined;
  private retryStrategy: Promise<RetryStrategyV2> | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly options: { maxSockets: number; requestTimeoutMs?: number },
  ) {}

  /** Runs one operation; resolves with the parsed response, or rejects with a DynamoServiceError once retries are spent. */
  async send(operation: string, body: string, abortSignal?: AbortSignal): Promise<unknown> {
    this.retryStrategy ??= this.resolveRetryStrategy();
    const strategy = await this.retryStrategy;
    let token: RetryToken = await strategy.acquireInitialRetryToken('');
    for (;;) {
      try {
        const result = await this.attempt(operation, body, abortSignal);
        strategy.recordSuccess(token);
        return result;
      } catch (error) {
        if (abortSignal?.aborted) throw error;
        try {
          token = await strategy.refreshRetryTokenForRetry(token, retryInfoFor(error));
        } catch {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, token.getRetryDelay()));
      }
    }
  }

  destroy(): void {
    void this.endpoint?.then((endpoint) => endpoint.agent.destroy(), () => undefined);
  }

  private async attempt(operation: string, body: string, abortSignal: AbortSignal | undefined): Promise<unknown> {
    this.endpoint ??= this.resolveEndpoint();
    const endpoint = await this.endpoint;
    const credentials = await this.client.config.credentials();
    const region = await this.client.config.region();
    const headers: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.0',
      host: endpoint.url.host,
      'x-amz-target': `DynamoDB_20120810.${operation}`,
    };
    this.signer.sign({ method: 'POST', path: endpoint.url.pathname, headers, body, region, credentials, now: new Date() });
    headers['content-length'] = String(Buffer.byteLength(body));
    const { statusCode, text, errorType } = await new Promise<{ statusCode: number; text: string; errorType: string | undefined }>(
      (resolve, reject) => {
        const request = endpoint.request(
          {
            protocol: endpoint.url.protocol,
            hostname: endpoint.url.hostname,
            port: endpoint.url.port,
            path: endpoint.url.pathname,
            method: 'POST',
            agent: endpoint.agent,
            headers,
            timeout: this.options.requestTimeoutMs ?? 30_000,
            ...(abortSignal ? { signal: abortSignal } : {}),
          },
          (response) => {
            let received = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (received += chunk));
            response.on('end', () => {
              const type = response.headers['x-amzn-errortype'];
              resolve({ statusCode: response.statusCode ?? 0, text: received, errorType: Array.isArray(type) ? type[0] : type });
            });
            response.on('error', reject);
          },
        );
        request.on('timeout', () => request.destroy(Object.assign(new Error('DynamoDB request timed out'), { name: 'TimeoutError' })));
        request.on('error', reject);
        // A string body goes out in the same socket write as the headers.
        request.end(body);
      },
    );
    if (statusCode >= 200 && statusCode < 300) return text === '' || text === '{}' ? {} : JSON.parse(text);
    let parsed: { __type?: string; message?: string; Message?: string } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // Not JSON (a proxy or load balancer page): the status code is all there is.
    }
    const type = parsed.__type ?? errorType ?? `HTTP${statusCode}`;
    const name = type.slice(type.lastIndexOf('#') + 1).split(':')[0] || type;
    throw new DynamoServiceError(name, parsed.message ?? parsed.Message ?? `DynamoDB answered ${statusCode}`, statusCode);
  }

  private async resolveRetryStrategy(): Promise<RetryStrategyV2> {
    const strategy = await this.client.config.retryStrategy();
    if (!('acquireInitialRetryToken' in strategy)) throw new Error('the DynamoDB client has a legacy retry strategy; give it retryMode standard or adaptive');
    return strategy;
  }

  private async resolveEndpoint(): Promise<Endpoint> {
    const config = this.client.config;
    let url: URL;
    if (config.isCustomEndpoint && config.endpoint) {
      const endpoint = await config.endpoint();
      url = new URL(`${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path ?? '/'}`);
    } else {
      // The SDK's own endpoint rules (partition, FIPS, dual stack), evaluated once rather than per request.
      const resolved = config.endpointProvider({
        Region: await config.region(),
        UseFIPS: await config.useFipsEndpoint(),
        UseDualStack: await config.useDualstackEndpoint(),
        AccountIdEndpointMode: 'disabled',
      });
      url = new URL(resolved.url.href);
    }
    const secure = url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: this.options.maxSockets };
    return {
      url,
      agent: secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions),
      request: secure ? https.request : http.request,
    };
  }
}
