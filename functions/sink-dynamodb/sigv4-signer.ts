import { createHash, createHmac } from 'node:crypto';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case names; every header given is signed, and x-amz-date (and x-amz-security-token) are added. */
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly region: string;
  readonly credentials: SigningCredentials;
  readonly now: Date;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * AWS Signature Version 4 for requests without a query string (the JSON protocols), with Node's crypto and the signing
 * key kept for its day. The SDK's signer does the same work but clones and re-scans each request.
 */
export class SigV4Signer {
  private cachedKey: { scope: string; secret: string; key: Buffer } | undefined;

  constructor(private readonly service: string) {}

  /** Adds x-amz-date, the session token if any, and authorization to `request.headers`. */
  sign(request: SignableRequest): void {
    const { headers, credentials } = request;
    const longDate = request.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const shortDate = longDate.slice(0, 8);
    headers['x-amz-date'] = longDate;
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}\n`;
    const signedHeaders = names.join(';');
    const canonicalRequest = `${request.method}\n${request.path}\n\n${canonicalHeaders}\n${signedHeaders}\n${sha256Hex(request.body)}`;
    const scope = `${shortDate}/${request.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.signingKey(scope, shortDate, request.region, credentials.secretAccessKey))
      .update(stringToSign, 'utf8')
      .digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }

  private signingKey(scope: string, shortDate: string, region: string, secret: string): Buffer {
    const cached = this.cachedKey;
    if (cached && cached.scope === scope && cached.secret === secret) return cached.key;
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, shortDate), region), this.service), 'aws4_request');
    this.cachedKey = { scope, secret, key };
    return key;
  }
}
