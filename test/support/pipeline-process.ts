import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from '../../infra/stack/stack-settings';

export interface PipelineRun {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
  /** The first event of this name, once it was printed. */
  event(name: string): Record<string, unknown> | undefined;
}

/**
 * The local pipeline in its own process group, as a terminal runs it, so a signal reaches every process it started.
 * `npm` runs `npm start` (which ends by the signal it got, as npm does); `node` runs what `npm start` runs, so the
 * runtime's own exit status is seen.
 */
export function startPipeline(how: 'npm' | 'node', args: readonly string[], env: NodeJS.ProcessEnv): PipelineRun {
  const [command, commandArgs] =
    how === 'npm'
      ? ['npm', ['start', '--silent', '--', ...args]]
      : [process.execPath, ['infra/local/start.cjs', ...args]];
  const child = spawn(command, commandArgs, { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // Not every line is JSON (npm's own notices); only the runtime's events matter here.
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    // 'close', not 'exit': the output is only complete once the pipes are.
    child.on('close', (code, signal) => done({ code, signal })),
  );
  return { child, lines, exited, stderr: () => stderr, event: (name) => lines.find((line) => line.event === name) };
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Service variables a user would set; a test of the defaults removes them all. */
export const SERVICE_VARIABLES = [
  'MONGODB_URI',
  'KAFKA_BROKERS',
  'DYNAMODB_ENDPOINT',
  'OPENSEARCH_URL',
  'CONTROL_TABLE',
  'REPORTING_TABLE',
  'CDC_STREAMS',
] as const;
