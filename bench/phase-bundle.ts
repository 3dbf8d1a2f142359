// The benchmark's phases run as esbuild bundles, the way Lambda runs the functions, rather than through tsx.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { projectRoot } from '../infra/stack/stack-settings';

/**
 * Why bundles: tsx compiles each TypeScript module in the process that runs it and keeps the sources and their
 * transforms in memory: the relay phase's peak RSS was 31 MiB higher through tsx, 57 MiB with its read thread (which
 * loads through tsx's require hook), memory the deployed function never holds: a peak RSS measured
 * through tsx says little about the function's. The options are serverless.yml's `custom.esbuild` (bundled, minified,
 * names kept, CommonJS), with the Node.js version that runs the benchmark as the target.
 */
const OPTIONAL_DRIVER_ADDONS = ['kerberos', 'snappy', '@mongodb-js/zstd', 'socks', 'mongodb-client-encryption', 'gcp-metadata'];
/** The worker threads' module, bundled beside each phase's bundle where functions/relay looks for it (as in the package). */
const RELAY_WORKER = 'functions/relay/relay-worker.ts';

let outputDir: string | undefined;
const built = new Map<string, string>();

function bundle(entry: string, outfile: string): void {
  buildSync({
    entryPoints: [resolve(projectRoot, entry)],
    absWorkingDir: projectRoot,
    outfile,
    bundle: true,
    minify: true,
    keepNames: true,
    sourcemap: false,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    // The AWS SDK stays a run-time require, as in Lambda, whose runtime provides it.
    external: [...OPTIONAL_DRIVER_ADDONS, '@aws-sdk/*'],
    // The stack's settings find the project's root through it (infra/stack/stack-settings.ts), not the bundle's __dirname.
    define: { MONGO_CDC_PROJECT_ROOT: JSON.stringify(projectRoot) },
    logLevel: 'error',
  });
}

/**
 * The bundle of the phase script `script` (a file in bench/), built once per benchmark run in a directory of its own
 * under node_modules/.cache, with the relay's worker bundle beside it. Removed when the benchmark exits.
 */
export function phaseBundle(script: string): string {
  const existing = built.get(script);
  if (existing !== undefined) return existing;
  if (outputDir === undefined) {
    const cache = join(projectRoot, 'node_modules', '.cache', 'mongo-cdc');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, 'bench-'));
    outputDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    bundle(RELAY_WORKER, join(dir, 'relay-worker.js'));
  }
  const outfile = join(outputDir, script.replace(/\.ts$/, '.cjs'));
  bundle(join('bench', script), outfile);
  built.set(script, outfile);
  return outfile;
}
