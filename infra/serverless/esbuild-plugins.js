// esbuild plugins for serverless-esbuild (serverless.yml, custom.esbuild.plugins).
'use strict';
const { join } = require('node:path');

const RELAY_HANDLER = /functions[\\/]relay[\\/]handler\.ts$/;

/**
 * The relay's worker threads (the read thread, functions/relay/read-thread.ts, and the snapshot's reading thread,
 * functions/relay/thread-chunk-reader.ts) run a module of their own, functions/relay/relay-worker.ts: it is bundled on
 * its own, with the relay's options, as relay-worker.js beside the relay's handler.js, where the relay looks for it.
 * Its own small bundle rather than the handler's: a worker that loaded the whole handler would hold the AWS SDK and
 * KafkaJS in memory for nothing and run the handler's start-up. One bundle for both threads: they share the MongoDB
 * driver, and two copies of it would take the relay's package over its 1 MiB budget.
 */
const RELAY_WORKERS = ['relay-worker'];

const relayReadThread = {
  name: 'relay-read-thread',
  setup(build) {
    const { entryPoints, outdir } = build.initialOptions;
    const entries = Array.isArray(entryPoints) ? entryPoints.map((entry) => (typeof entry === 'string' ? entry : entry.in)) : Object.values(entryPoints ?? {});
    if (!outdir || !entries.some((entry) => RELAY_HANDLER.test(entry))) return;
    build.onEnd(async (result) => {
      if (result.errors.length > 0) return;
      const { plugins: _plugins, entryPoints: _entryPoints, outdir: _outdir, metafile: _metafile, ...options } = build.initialOptions;
      for (const name of RELAY_WORKERS) {
        const worker = await build.esbuild.build({ ...options, entryPoints: [entryPath(entries, `${name}.ts`)], outfile: join(outdir, `${name}.js`) });
        result.errors.push(...worker.errors);
        result.warnings.push(...worker.warnings);
      }
    });
  },
};

/** The read thread's module, beside the relay handler's entry (as serverless-esbuild names it). */
function entryPath(entries, file) {
  const handler = entries.find((entry) => RELAY_HANDLER.test(entry));
  return handler.replace(/handler\.ts$/, file);
}

module.exports = [relayReadThread];
