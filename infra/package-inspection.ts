import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/**
 * Reading what `serverless package` produced: the function zips and the CloudFormation template. Used by the bundle
 * report and the template tests; needs no unzip binary (CI images often lack one).
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string[];
  DeletionPolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

export function readTemplate(packageDir: string): CfnTemplate {
  return JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as CfnTemplate;
}

/** Extracts a zip (stored or deflated entries, as serverless writes them) into a folder. */
export function extractZip(zipFile: string, into: string): void {
  const zip = readFileSync(zipFile);
  // The end-of-central-directory record sits in the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let offset = zip.length - 22; offset >= Math.max(0, zip.length - 65_557); offset--) {
    if (zip.readUInt32LE(offset) === 0x06054b50) {
      eocd = offset;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipFile} is not a zip file`);
  const entries = zip.readUInt16LE(eocd + 10);
  let cursor = zip.readUInt32LE(eocd + 16);
  for (let index = 0; index < entries; index++) {
    if (zip.readUInt32LE(cursor) !== 0x02014b50) throw new Error(`${zipFile}: bad central directory entry ${index}`);
    const method = zip.readUInt16LE(cursor + 10);
    const compressedSize = zip.readUInt32LE(cursor + 20);
    const nameLength = zip.readUInt16LE(cursor + 28);
    const extraLength = zip.readUInt16LE(cursor + 30);
    const commentLength = zip.readUInt16LE(cursor + 32);
    const localHeader = zip.readUInt32LE(cursor + 42);
    const name = zip.subarray(cursor + 46, cursor + 46 + nameLength).toString('utf8');
    cursor += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    const target = resolve(into, name);
    if (!target.startsWith(resolve(into))) throw new Error(`${zipFile}: entry ${name} escapes the target folder`);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    let content: Buffer;
    if (method === 0) content = data;
    else if (method === 8) content = inflateRawSync(data);
    else throw new Error(`${zipFile}: entry ${name} uses unsupported compression method ${method}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

/** Each packaged function: its zip, handler and environment, as the template deploys them. */
export interface PackagedFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly zip: string;
  readonly handler: string;
  readonly environment: Record<string, unknown>;
}

export function packagedFunctions(packageDir: string, template: CfnTemplate = readTemplate(packageDir)): PackagedFunction[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties ?? {};
      const code = properties.Code as { S3Key: string };
      const environment = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      return {
        logicalId,
        functionName: String(properties.FunctionName),
        zip: join(packageDir, code.S3Key.split('/').pop() ?? ''),
        handler: String(properties.Handler),
        environment,
      };
    });
}

/**
 * The environment a function starts with, runnable offline: values CloudFormation fills in (table names, secret
 * references) become placeholders, and a connection-string secret becomes a plain (never contacted) URI, because module
 * init only checks that configuration is present and valid; nothing connects before the first invocation.
 */
export function offlineEnvironment(environment: Record<string, unknown>): Record<string, string> {
  const offline: Record<string, string> = { AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'cold-start-probe' };
  for (const [name, value] of Object.entries(environment)) {
    if (typeof value !== 'string') offline[name] = `placeholder-${name.toLowerCase()}`;
    else if (value.startsWith('{{resolve:')) offline[name] = `placeholder-${name.toLowerCase()}`;
    else if (name.endsWith('_SECRET')) {
      // Secrets are only read at the first connection; the plain twin stands in for a connection string.
      offline[name] = value;
      offline[name.slice(0, -'_SECRET'.length)] = 'mongodb://127.0.0.1:1/?directConnection=true';
    }
    else offline[name] = value;
  }
  if (offline.OPENSEARCH_URL?.startsWith('placeholder')) offline.OPENSEARCH_URL = 'https://search.example.invalid';
  return offline;
}

/**
 * Loads a packaged handler in a fresh Node.js process and returns how long `require()` took (module init: what a cold
 * start adds before the first invocation runs). The AWS SDK, which the Lambda runtime provides and the bundles leave
 * out, comes from this project's node_modules. Throws with the child's output when the module fails to load.
 */
export function timeModuleInit(extractedDir: string, handler: string, environment: Record<string, string>, sdkModules: string): number {
  const modulePath = join(extractedDir, handler.slice(0, handler.lastIndexOf('.')));
  const exportName = handler.slice(handler.lastIndexOf('.') + 1);
  const probe = [
    'const started = process.hrtime.bigint();',
    `const loaded = require(${JSON.stringify(modulePath)});`,
    'const elapsed = Number(process.hrtime.bigint() - started) / 1e6;',
    `if (typeof loaded[${JSON.stringify(exportName)}] !== 'function') throw new Error('handler export missing');`,
    'process.stdout.write(JSON.stringify({ elapsed }));',
  ].join('\n');
  const nodeOptions = environment.NODE_OPTIONS;
  const child = spawnSync(process.execPath, ['-e', probe], {
    cwd: extractedDir,
    env: { PATH: process.env.PATH ?? '', ...environment, NODE_PATH: sdkModules, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (child.status !== 0) {
    throw new Error(`loading ${handler} from ${extractedDir} failed (exit ${child.status}):\n${child.stderr}${child.stdout}`);
  }
  return (JSON.parse(child.stdout) as { elapsed: number }).elapsed;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
