import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { SigV4Signer } from './sigv4-signer';

/** What the AWS SDK's own signer makes of the same request: the reference the hand-written signer must match. */
async function sdkAuthorization(options: {
  headers: Record<string, string>;
  body: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  now: Date;
}): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials: options.credentials, region: 'eu-west-1', service: 'dynamodb', sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'https:', hostname: options.headers.host ?? '', path: '/', query: {}, headers: { ...options.headers }, body: options.body },
    { signingDate: options.now },
  );
  return signed.headers;
}

describe('SigV4Signer', () => {
  const headers = () => ({
    'content-type': 'application/x-amz-json-1.0',
    host: 'dynamodb.eu-west-1.amazonaws.com',
    'x-amz-target': 'DynamoDB_20120810.PutItem',
  });
  const body = JSON.stringify({ TableName: 't', Item: { _key: { S: 'shop.orders|{"_id":"caf\u00e9"}' }, n: { N: '1' } } });

  it("signs exactly as the SDK's SignatureV4 does, with and without a session token, across days", async () => {
    for (const credentials of [
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/with+chars', sessionToken: 'token-of-a-role-session' },
    ]) {
      const signer = new SigV4Signer('dynamodb');
      for (const now of [new Date('2026-11-29T23:59:59.999Z'), new Date('2026-11-30T00:00:01.000Z')]) {
        const ours = headers() as Record<string, string>;
        signer.sign({ method: 'POST', path: '/', headers: ours, body, region: 'eu-west-1', credentials, now });
        const theirs = await sdkAuthorization({ headers: headers(), body, credentials, now });

        expect(ours.authorization).toBe(theirs.authorization);
        expect(ours['x-amz-date']).toBe(theirs['x-amz-date']);
        expect(ours['x-amz-security-token']).toBe(theirs['x-amz-security-token']);
      }
    }
  });

  it('uses a new signing key when the secret changes (rotated credentials)', async () => {
    const signer = new SigV4Signer('dynamodb');
    const now = new Date('2026-11-30T10:00:00Z');
    const first = headers() as Record<string, string>;
    signer.sign({ method: 'POST', path: '/', headers: first, body, region: 'eu-west-1', credentials: { accessKeyId: 'A', secretAccessKey: 'one' }, now });
    const second = headers() as Record<string, string>;
    const rotated = { accessKeyId: 'A', secretAccessKey: 'two' };
    signer.sign({ method: 'POST', path: '/', headers: second, body, region: 'eu-west-1', credentials: rotated, now });

    expect(second.authorization).not.toBe(first.authorization);
    expect(second.authorization).toBe((await sdkAuthorization({ headers: headers(), body, credentials: rotated, now })).authorization);
  });
});
