import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Packages the service offline (`serverless package`, no AWS credentials) once per scenario, all at once, before the
 * template tests run. Each scenario packages its own copy of the service: serverless-esbuild stages bundles and zips in
 * `<service>/.esbuild` and `<service>/.serverless` whatever `--package` says, so packagings of one checkout that run at
 * once (or beside `npm run package:check`) would take each other's zips.
 */

export interface Scenario {
  readonly stage: string;
  readonly region: string;
  readonly params: readonly string[];
}

export const SCENARIOS = {
  /** What `npm run package:check` packages: MSK with IAM, in a VPC, both sinks, two streams. */
  mskIam: { stage: 'ci', region: 'us-east-1', params: ['mskClusterArn=arn:aws:kafka:us-east-1:123456789012:cluster/mongo-cdc/example-1'] },
  selfManagedScram: { stage: 'tmpl', region: 'eu-west-1', params: ['config=infra/template-tests/fixtures/self-managed-scram.yml'] },
  createdInfrastructure: { stage: 'first', region: 'us-east-1', params: ['config=infra/template-tests/fixtures/created-infrastructure.yml'] },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Per scenario: the folder holding its zips and CloudFormation template. */
    templatePackages: Record<ScenarioName, string>;
  }
}

const root = resolve(__dirname, '..', '..');
const COPIED = ['serverless.yml', 'package.json', 'package-lock.json', 'tsconfig.json', 'functions', 'shared', 'infra/serverless', 'infra/resources', 'infra/template-tests/fixtures'];

function packageScenario(name: string, scenario: Scenario, workspace: string): Promise<string> {
  const service = join(workspace, name);
  for (const path of COPIED) {
    cpSync(join(root, path), join(service, path), { recursive: true, filter: (source) => !/\.test\.ts$/.test(source) });
  }
  symlinkSync(join(root, 'node_modules'), join(service, 'node_modules'), 'dir');
  const output = join(service, 'package');
  const args = ['package', '--stage', scenario.stage, '--region', scenario.region, '--package', output, ...scenario.params.map((param) => `--param=${param}`)];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'node_modules', 'serverless', 'bin', 'serverless.js'), ...args], {
      cwd: service,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done(output) : fail(new Error(`serverless package (${name}) exited with ${code}:\n${log}`))));
  });
}

export default async function setup(project: TestProject): Promise<() => void> {
  const workspace = mkdtempSync(join(tmpdir(), 'mongo-cdc-template-'));
  const entries = await Promise.all(
    Object.entries(SCENARIOS).map(async ([name, scenario]) => [name, await packageScenario(name, scenario, workspace)] as const),
  );
  project.provide('templatePackages', Object.fromEntries(entries) as Record<ScenarioName, string>);
  return () => rmSync(workspace, { recursive: true, force: true });
}
