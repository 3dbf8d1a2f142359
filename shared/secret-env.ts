import { CdcError } from './errors';

/**
 * A setting that is either plain in the environment (local runs) or, in AWS, the value of a Secrets Manager secret
 * named by `<NAME>_SECRET`, fetched once per container so connection strings never sit in function configuration.
 */
export function secretVariableConfigured(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[name]) || Boolean(env[`${name}_SECRET`]);
}

const cache = new Map<string, Promise<string>>();

export function resolveSecretVariable(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const plain = env[name];
  if (plain) return Promise.resolve(plain);
  const secretId = env[`${name}_SECRET`];
  if (!secretId) {
    return Promise.reject(new CdcError('CONFIG_INVALID', `environment variable ${name} (or ${name}_SECRET) is required`));
  }
  let pending = cache.get(secretId);
  if (!pending) {
    // Loaded on first use, not at module init: a function with no secret to read (a sink on MSK IAM, a local run with
    // plain variables) never pays the ~200 ms the client takes to load.
    pending = import('@aws-sdk/client-secrets-manager')
      .then(({ GetSecretValueCommand, SecretsManagerClient }) => new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId })))
      .then((secret) => {
        if (!secret.SecretString) throw new CdcError('CONFIG_INVALID', `secret ${secretId} (from ${name}_SECRET) has no string value`);
        return secret.SecretString;
      });
    // A failed fetch is retried by the next invocation rather than cached.
    pending.catch(() => cache.delete(secretId));
    cache.set(secretId, pending);
  }
  return pending;
}

export interface UsernamePassword {
  readonly username: string;
  readonly password: string;
}

/**
 * A username and password kept in Secrets Manager as JSON {"username", "password"} (the format Amazon MSK requires for
 * SASL/SCRAM secrets), named by `<NAME>_SECRET` and read once per container. The secret's value never appears in an
 * error message.
 */
export async function resolveSecretCredentials(name: string, env: NodeJS.ProcessEnv = process.env): Promise<UsernamePassword> {
  return credentialsFromSecret(`${name}_SECRET`, await resolveSecretVariable(name, env));
}

export function credentialsFromSecret(variable: string, secret: string): UsernamePassword {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    throw new CdcError('CONFIG_INVALID', `the secret named by ${variable} is not JSON; it must be {"username": "...", "password": "..."}`);
  }
  const { username, password } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new CdcError('CONFIG_INVALID', `the secret named by ${variable} must hold non-empty string fields "username" and "password"`);
  }
  return { username, password };
}
