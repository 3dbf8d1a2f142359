// Node 20 is supported for local runs; the SDK's notice about its future Node 22 minimum is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CdcError } from '../../shared/errors';
import { stackDown, stackUp } from '../stack/stack';
import { logsDir } from '../stack/stack-settings';
import { localDefaults, parseRuntimeEnv } from './local-config';
import { LocalRuntime } from './local-runtime';

const USAGE = `usage: npm start -- [--demo] [--rate OPS_PER_SECOND] [--duration SECONDS] [--stop-stack]

  --demo          also write a shop workload (customers and orders) into MongoDB
  --rate N        demo operations per second (default 20)
  --duration S    stop the demo after S seconds, wait until everything reached the stores, then exit
  --stop-stack    stop the local services on exit (they keep running otherwise)`;

const line = (record: Record<string, unknown>) => JSON.stringify({ time: new Date().toISOString(), ...record });

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      demo: { type: 'boolean', default: false },
      rate: { type: 'string', default: '20' },
      duration: { type: 'string' },
      'stop-stack': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const rate = Number(values.rate);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (!Number.isFinite(rate) || rate <= 0) throw new CdcError('CONFIG_INVALID', `--rate must be a positive number, got ${values.rate}`);
  if (duration !== undefined && (!Number.isFinite(duration) || duration < 0)) {
    throw new CdcError('CONFIG_INVALID', `--duration must be a number of seconds, got ${values.duration}`);
  }

  const interactive = Boolean(process.stdout.isTTY);
  const terminal = process.stdout.write.bind(process.stdout);
  // Runtime events follow the handlers' logs: to the terminal when plain, to the log file under the status view.
  const say = (record: Record<string, unknown>) => process.stdout.write(`${line(record)}\n`);

  const defaulted: string[] = [];
  for (const [name, value] of Object.entries(localDefaults())) {
    if (process.env[name] === undefined || process.env[name] === '') {
      process.env[name] = value;
      defaulted.push(name);
    }
  }
  say({ event: 'local.configuration', defaulted });
  const settings = parseRuntimeEnv();

  await stackUp((progress) => say({ event: 'local.stack', progress }));
  const demoDatabase = settings.CDC_STREAMS.find((stream) => stream.database)?.database ?? 'shop';
  const runtime = new LocalRuntime({
    settings,
    ...(values.demo ? { demo: { opsPerSecond: rate, database: demoDatabase } } : {}),
    log: say,
  });
  await runtime.prepare();

  // On a terminal the handlers' JSON logs would scroll the status view away: they go to a log file instead.
  let logFile: string | undefined;
  if (interactive) {
    mkdirSync(logsDir, { recursive: true });
    logFile = resolve(logsDir, 'local-pipeline.log');
    const sink = createWriteStream(logFile, { flags: 'a' });
    process.stdout.write = ((chunk: string | Uint8Array) => sink.write(chunk)) as typeof process.stdout.write;
  }
  await runtime.start();
  const startedAt = Date.now();
  const header = () =>
    `mongo-cdc local pipeline, up ${((Date.now() - startedAt) / 1000).toFixed(0)} s${values.demo ? `, demo writing ${rate}/s to ${demoDatabase}` : ''}` +
    `${runtime.demo ? ` (${JSON.stringify(runtime.demo.counts)})` : ''}\nhandler logs: ${logFile ?? 'this output'}; Ctrl-C stops (the services keep running)`;

  let stopping: Promise<number> | undefined;
  const shutdown = (reason: string, code: number): Promise<number> => {
    stopping ??= (async () => {
      say({ event: 'local.stopping', reason });
      await runtime.stop();
      await runtime.refreshStatus().catch(() => undefined);
      await runtime.close();
      say({ event: 'local.stopped', ...runtime.status.toJSON(), ...(runtime.demo ? { demo: runtime.demo.counts } : {}) });
      if (interactive) terminal(`\x1b[2J\x1b[H${runtime.status.render(header())}\nstopped (${reason})\n`);
      return code;
    })();
    return stopping;
  };
  let firstSignalAt: number | undefined;
  const onSignal = (signal: string) => {
    // Ctrl-C under npm arrives twice (from the terminal and forwarded by npm): only a later one means "hurry up".
    if (firstSignalAt !== undefined && Date.now() - firstSignalAt > 1_000) {
      say({ event: 'local.abandoned', signal, note: 'second signal: exiting without waiting for in-flight batches' });
      process.exit(130);
    }
    firstSignalAt ??= Date.now();
    void shutdown(signal, 0);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  let lastPlain = 0;
  let demoStoppedAt: number | undefined;
  for (;;) {
    if (stopping) return stopping;
    await new Promise((done) => setTimeout(done, 1_000));
    await runtime.refreshStatus().catch((error: Error) => say({ event: 'local.status-failed', error: error.message }));
    if (interactive) {
      terminal(`\x1b[2J\x1b[H${runtime.status.render(header())}\n`);
    } else if (Date.now() - lastPlain >= 5_000) {
      lastPlain = Date.now();
      say({ event: 'local.status', ...runtime.status.toJSON(), ...(runtime.demo ? { demo: runtime.demo.counts } : {}) });
    }
    if (duration !== undefined && !stopping) {
      const elapsed = Date.now() - startedAt;
      if (demoStoppedAt === undefined && elapsed >= duration * 1000) {
        await runtime.stopDemo();
        demoStoppedAt = Date.now();
        say({ event: 'local.demo-stopped', ...(runtime.demo ? { demo: runtime.demo.counts } : {}) });
      }
      if (demoStoppedAt !== undefined && runtime.status.drained(3_000)) void shutdown('drained', 0);
      else if (demoStoppedAt !== undefined && Date.now() - demoStoppedAt > 120_000) void shutdown('not drained 120 s after the demo stopped', 1);
    }
  }
}

main()
  .then(async (code) => {
    if (process.argv.includes('--stop-stack')) await stackDown((progress) => console.log(line({ event: 'local.stack', progress })));
    process.exit(code);
  })
  .catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(line({ event: 'local.failed', error: message }));
    process.exit(error instanceof CdcError && error.code === 'CONFIG_INVALID' ? 2 : 1);
  });
