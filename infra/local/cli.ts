// Node 20 is supported for local runs; the SDK's notice about its future Node 22 minimum is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CdcError } from '../../shared/errors';
import { ensureStack, stackDown } from '../stack/stack';
import { logsDir, stateDir } from '../stack/stack-settings';
import { parseRuntimeEnv } from './local-config';
import { withLocalDefaults } from './local-defaults';
import { LocalRuntime } from './local-runtime';
import { acquirePipelineLock, PipelineAlreadyRunning } from './pipeline-lock';

const USAGE = `usage: npm start -- [--demo] [--rate OPS_PER_SECOND] [--duration SECONDS] [--stop-stack]

  --demo          also write a shop workload (customers and orders) into MongoDB
  --rate N        demo operations per second (default 20)
  --duration S    stop the demo after S seconds, wait until everything reached the stores, then exit
  --stop-stack    stop the local services on exit (they keep running otherwise)

Exit status: 0 stopped cleanly (Ctrl-C, or drained after --duration), 1 failed or not drained, 2 bad configuration,
3 another local pipeline already runs, 130 a second Ctrl-C abandoned in-flight batches.`;

/** With --duration: how long nothing may move (no event relayed, no record consumed) before the run counts as stalled. */
const STALL_MS = 120_000;

const EXIT = { clean: 0, failed: 1, config: 2, alreadyRunning: 3, abandoned: 130 } as const;

// Kept before the terminal mode sends library output to the log file, for the last word of a failed start.
const originalStderr = process.stderr.write.bind(process.stderr);
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
    return EXIT.clean;
  }
  const rate = Number(values.rate);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (!Number.isFinite(rate) || rate <= 0) throw new CdcError('CONFIG_INVALID', `--rate must be a positive number, got ${values.rate}`);
  if (duration !== undefined && (!Number.isFinite(duration) || duration < 0)) {
    throw new CdcError('CONFIG_INVALID', `--duration must be a number of seconds, got ${values.duration}`);
  }

  // Checked before anything is started: a malformed variable fails at once, naming it. The defaults are applied to
  // this process only after the stack was asked to start, so it never takes them for the user's own services.
  const planned = withLocalDefaults(process.env);
  const settings = parseRuntimeEnv(planned.env);

  const interactive = Boolean(process.stdout.isTTY);
  const terminal = process.stdout.write.bind(process.stdout);
  // Our own messages: readable lines on a terminal, JSON events otherwise (and always in the log file).
  let logSink: ((text: string) => void) | undefined;
  const say = (record: Record<string, unknown>, text?: string) => {
    if (interactive) {
      logSink?.(`${line(record)}\n`);
      if (text) terminal(`${text}\n`);
    } else {
      process.stdout.write(`${line(record)}\n`);
    }
  };

  let lock: { release(): void };
  try {
    // One pipeline per control table: two on one table would contend for every lease and hide each other's work.
    const controlTable = (planned.env.CONTROL_TABLE ?? '').replace(/[^A-Za-z0-9._-]/g, '_');
    lock = acquirePipelineLock(resolve(stateDir, 'run', `pipeline-${controlTable}.lock`));
  } catch (error) {
    if (!(error instanceof PipelineAlreadyRunning)) throw error;
    console.error(interactive ? `mongo-cdc: ${error.message}` : line({ event: 'local.already-running', pid: error.holder.pid, startedAt: error.holder.startedAt, error: error.message }));
    return EXIT.alreadyRunning;
  }

  // On a terminal, library output (handlers' JSON logs, KafkaJS, SDK notices) would scroll the status view away: it
  // goes to a log file from the start; the screen shows only the status view and our own messages.
  let logFile: string | undefined;
  if (interactive) {
    mkdirSync(logsDir, { recursive: true });
    logFile = resolve(logsDir, 'local-pipeline.log');
    const file = createWriteStream(logFile, { flags: 'a' });
    logSink = (text) => file.write(text);
    const toFile = ((chunk: string | Uint8Array) => file.write(chunk)) as typeof process.stdout.write;
    process.stdout.write = toFile;
    process.stderr.write = toFile;
    terminal(`mongo-cdc local pipeline: starting (library logs: ${logFile})\n`);
  }

  let runtime: LocalRuntime | undefined;
  const startingUp = new AbortController();
  let stopping: Promise<number> | undefined;
  let phase: Promise<unknown> | undefined;
  const startedAt = Date.now();
  const header = () =>
    `mongo-cdc local pipeline (pid ${process.pid}), up ${((Date.now() - startedAt) / 1000).toFixed(0)} s` +
    `${runtime?.demo ? `, demo writing ${rate}/s to ${runtime.demo.database} (${JSON.stringify(runtime.demo.counts)})` : ''}` +
    `\nlogs: ${logFile ?? 'this output'}; Ctrl-C stops (the services keep running)`;

  const shutdown = (reason: string, code: number): Promise<number> => {
    stopping ??= (async () => {
      startingUp.abort();
      say({ event: 'local.stopping', reason }, `stopping (${reason}): relays finish their batch and save their checkpoint...`);
      let clean = true;
      // A set-up step in flight (creating resources, connecting consumers) ends first, so stop sees all it started.
      await phase?.catch(() => undefined);
      if (runtime) {
        try {
          await runtime.stop();
          await runtime.refreshStatus().catch(() => undefined);
        } catch (error) {
          clean = false;
          say({ event: 'local.stop-failed', error: (error as Error).message }, `stop failed: ${(error as Error).message}`);
        } finally {
          await runtime.close().catch(() => undefined);
        }
      }
      const exitCode = clean ? code : EXIT.failed;
      say({ event: 'local.stopped', reason, clean, exitCode, ...(runtime ? runtime.status.toJSON() : {}), ...(runtime?.demo ? { demo: runtime.demo.counts } : {}) });
      if (interactive) terminal(`${runtime ? `\x1b[2J\x1b[H${runtime.status.render(header())}\n` : ''}stopped (${reason})${clean ? ', cleanly' : ''}; exit status ${exitCode}\n`);
      return exitCode;
    })();
    return stopping;
  };
  let firstSignalAt: number | undefined;
  const onSignal = (signal: string) => {
    // Ctrl-C under npm arrives twice (from the terminal and forwarded by npm): only a later one means "hurry up".
    if (firstSignalAt !== undefined && Date.now() - firstSignalAt > 1_000) {
      say({ event: 'local.abandoned', signal, note: 'second signal: exiting without waiting for in-flight batches' }, 'second Ctrl-C: exiting at once');
      lock.release();
      process.exit(EXIT.abandoned);
    }
    firstSignalAt ??= Date.now();
    void shutdown(signal, EXIT.clean);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Signals that arrived while the modules were loading (infra/local/early-signals.cjs) count as if they came now.
  const early = globalThis as { [key: symbol]: unknown };
  (early[Symbol.for('mongo-cdc.early-signals.release')] as (() => void) | undefined)?.();
  for (const { signal } of (early[Symbol.for('mongo-cdc.early-signals')] as Array<{ signal: string }> | undefined) ?? []) onSignal(signal);

  try {
    // Ctrl-C while services start does not wait for them: they are detached and go on starting for the next run.
    const interrupted = new Promise<void>((done) => startingUp.signal.addEventListener('abort', () => done(), { once: true }));
    await Promise.race([
      ensureStack(
        (progress) => say({ event: 'local.stack', progress }, `[stack] ${progress}`),
        undefined,
        { waitForExternalMs: Number.POSITIVE_INFINITY, signal: startingUp.signal },
      ).catch((error: unknown) => {
        if (stopping) return;
        throw error;
      }),
      interrupted,
    ]);
    if (stopping) return await stopping;
    for (const name of planned.defaulted) process.env[name] = planned.env[name];
    say({ event: 'local.configuration', defaulted: planned.defaulted });

    const demoDatabase = settings.CDC_STREAMS.find((stream) => stream.database)?.database ?? 'shop';
    runtime = new LocalRuntime({
      settings,
      ...(values.demo ? { demo: { opsPerSecond: rate, database: demoDatabase } } : {}),
      log: say,
      signal: startingUp.signal,
    });
    say({ event: 'local.preparing' }, 'checking tables, topics and indices...');
    phase = runtime.prepare();
    await phase;
    if (stopping) return await stopping;
    phase = runtime.start();
    await phase;
    if (stopping) return await stopping;
    say({ event: 'local.running', pid: process.pid }, `relays started${values.demo ? ', demo writing' : ''}; sinks joining their consumer groups`);

    let lastPlain = 0;
    let demoStoppedAt: number | undefined;
    // A drain that is still moving is not a stall, however busy the machine: the limit counts from the last progress.
    let progress = '';
    let progressAt = Date.now();
    const runStartedAt = Date.now();
    for (;;) {
      if (stopping) return await stopping;
      await new Promise((done) => setTimeout(done, 1_000));
      if (stopping) return await stopping;
      await runtime.refreshStatus().catch((error: Error) => say({ event: 'local.status-failed', error: error.message }));
      if (interactive) {
        terminal(`\x1b[2J\x1b[H${runtime.status.render(header())}\n`);
      } else if (Date.now() - lastPlain >= 5_000) {
        lastPlain = Date.now();
        say({ event: 'local.status', ...runtime.status.toJSON(), ...(runtime.demo ? { demo: runtime.demo.counts } : {}) });
      }
      if (duration !== undefined) {
        if (demoStoppedAt === undefined && Date.now() - runStartedAt >= duration * 1000) {
          await runtime.stopDemo();
          demoStoppedAt = Date.now();
          say({ event: 'local.demo-stopped', ...(runtime.demo ? { demo: runtime.demo.counts } : {}) });
        }
        const now = runtime.status.progress();
        if (now !== progress) {
          progress = now;
          progressAt = Date.now();
        }
        if (demoStoppedAt !== undefined && runtime.status.drained(3_000)) void shutdown('drained', EXIT.clean);
        else if (demoStoppedAt !== undefined && Date.now() - Math.max(demoStoppedAt, progressAt) > STALL_MS) {
          void shutdown(`not drained: nothing relayed or applied for ${STALL_MS / 1000} s`, EXIT.failed);
        }
      }
    }
  } catch (error) {
    // A failure while signals are handled still stops what started, so no lease or batch is left half-done.
    if (stopping) return await stopping;
    if (runtime) await shutdown(`failed: ${(error as Error).message}`, EXIT.failed);
    throw error;
  } finally {
    lock.release();
  }
}

main()
  .then(async (code) => {
    if (process.argv.includes('--stop-stack')) await stackDown((progress) => console.log(line({ event: 'local.stack', progress })));
    process.exit(code);
  })
  .catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    originalStderr(`${line({ event: 'local.failed', error: message })}\n`);
    process.exit(error instanceof CdcError && error.code === 'CONFIG_INVALID' ? EXIT.config : EXIT.failed);
  });
