import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

/** Runs the stack CLI as a user would, with its own state folder so it never touches the running stack. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', resolve(root, 'infra/stack/cli.ts'), ...args],
      { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

describe('stack CLI', () => {
  let squatter: Server;
  let takenPort = 0;
  const state = mkdtempSync(join(tmpdir(), 'stack-cli-'));

  beforeAll(async () => {
    squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => squatter.listen(0, '127.0.0.1', done));
    takenPort = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((done) => squatter.close(done));
    rmSync(state, { recursive: true, force: true });
  });

  it('refuses a port held by another process, naming the port and its variable', async () => {
    const { code, output } = await cli(['up', 'dynamodb'], { STACK_STATE_DIR: state, DYNAMODB_PORT: String(takenPort) });
    expect(code).toBe(1);
    expect(output).toContain(`port ${takenPort}`);
    expect(output).toContain('DYNAMODB_PORT');
    expect(output).toContain('DYNAMODB_ENDPOINT');
  });

  it('rejects a port variable that is not a port, naming it', async () => {
    const { code, output } = await cli(['status', 'kafka'], { STACK_STATE_DIR: state, KAFKA_PORT: 'ninety' });
    expect(code).toBe(1);
    expect(output).toContain('KAFKA_PORT="ninety" is not a TCP port');
  });

  it('stops nothing and succeeds when nothing it started is running, however often', async () => {
    const first = await cli(['down'], { STACK_STATE_DIR: state });
    const second = await cli(['down'], { STACK_STATE_DIR: state });
    expect([first.code, second.code]).toEqual([0, 0]);
  });

  it('reports a service that does not answer, and says so in its exit code', async () => {
    const { code, output } = await cli(['status', 'dynamodb'], { STACK_STATE_DIR: state, DYNAMODB_PORT: String(takenPort) });
    expect(code).toBe(1);
    expect(output).toMatch(/dynamodb\s+NOT answering/);
  });

  it('names an unknown service', async () => {
    const { code, output } = await cli(['up', 'postgres'], { STACK_STATE_DIR: state });
    expect(code).toBe(2);
    expect(output).toContain('unknown service(s): postgres');
  });
});
