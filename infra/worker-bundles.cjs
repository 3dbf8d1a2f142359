'use strict';
// Worker-thread modules and the bundles that start them. A bundled function starts a worker from its own bundle file,
// built beside the bundle that starts it (shared/worker-thread.ts's workerEntry looks for `<name>.js` or `<name>.cjs`
// there), holding only what the worker imports: a lean entry, so the thread does not load the whole handler (Kafka,
// the AWS SDK, the configuration schema) into its heap. Under tsx and vitest the TypeScript source is started instead.
const { basename, extname } = require('node:path');

/** Per entry point of a bundle (as the project names it), the worker modules its code starts. */
const WORKERS_BY_ENTRY = {
  'functions/relay/handler.ts': ['functions/relay/snapshot-read-worker.ts'],
  'infra/local/cli.ts': ['functions/relay/snapshot-read-worker.ts'],
};

/** The worker modules a bundle of these entry points starts (none for the others). */
function workersOf(entryPoints) {
  const entries = Array.isArray(entryPoints) ? entryPoints : Object.values(entryPoints ?? {});
  const workers = new Set();
  for (const entry of entries) {
    const path = typeof entry === 'string' ? entry : entry.in;
    for (const worker of WORKERS_BY_ENTRY[String(path).replace(/^\.\//, '')] ?? []) workers.add(worker);
  }
  return [...workers];
}

/** The bundle file name workerEntry looks for, with the extension the host bundle uses. */
function workerBundleName(worker, extension) {
  return `${basename(worker, extname(worker))}${extension}`;
}

/**
 * An esbuild plugin (for serverless-esbuild's `plugins`) that, once a bundle of an entry point listed above is built,
 * builds that entry's workers into the same folder with the same options. They are then packaged with the function.
 */
function workerBundlesPlugin() {
  return {
    name: 'mongo-cdc-worker-bundles',
    setup(build) {
      const workers = workersOf(build.initialOptions.entryPoints);
      if (workers.length === 0) return;
      build.onEnd(async (result) => {
        if (result.errors.length > 0) return;
        const { entryPoints: _entries, plugins: _plugins, metafile: _metafile, outfile: _outfile, ...options } = build.initialOptions;
        // Loaded only here: the plugin's module is read by serverless on every command.
        const esbuild = require('esbuild');
        for (const worker of workers) {
          await esbuild.build({ ...options, entryPoints: [worker], write: true });
        }
      });
    },
  };
}

module.exports = { WORKERS_BY_ENTRY, workersOf, workerBundleName, workerBundlesPlugin };
