'use strict';
// The local runtime (infra/local/cli.ts) and the ops CLI (infra/ops/cli.ts), each with everything it imports, bundled
// into one CommonJS file with esbuild, rebuilt only when a source file changed. Loading one bundle takes about a third of the CPU time of loading the TypeScript
// through tsx (its loader thread, esbuild transforms and thousands of module lookups), which on a busy machine is
// seconds of every start, before anything can relay.
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const projectRoot = resolve(__dirname, '..', '..');
// One folder per checkout: two checkouts sharing one node_modules (a symlink, or git worktrees) would otherwise
// replace each other's bundles, each built for its own root, while the other starts from them.
const checkoutKey = createHash('sha256').update(projectRoot).digest('hex').slice(0, 12);
const cacheDir = resolve(projectRoot, 'node_modules', '.cache', 'mongo-cdc', checkoutKey);
// npm rewrites it on every install, so a changed dependency tree rebuilds the bundle too.
const installedTree = resolve(projectRoot, 'node_modules', '.package-lock.json');
// The MongoDB driver's optional add-ons, loaded in try/catch only when configured: left as run-time requires.
const external = ['kerberos', 'snappy', '@mongodb-js/zstd', 'socks', 'mongodb-client-encryption', 'gcp-metadata'];

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/** A bundle's entry point and where it and its manifest (what it was built from, and when) are kept. */
function bundleOf(name, entry, label) {
  return { name, label, entry: resolve(projectRoot, entry), bundlePath: join(cacheDir, `${name}.cjs`), manifestPath: join(cacheDir, `${name}.json`) };
}

/** True when the bundle exists and no project file it was built from (nor the installed dependencies) changed since. */
function isFresh({ bundlePath, manifestPath }) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  if (manifest.node !== process.version || manifest.projectRoot !== projectRoot || mtime(bundlePath) === undefined) return false;
  if ((mtime(installedTree) ?? 0) !== manifest.installedTree) return false;
  return manifest.sources.every((source) => {
    const changed = mtime(resolve(projectRoot, source));
    return changed !== undefined && changed <= manifest.builtAt;
  });
}

function build({ label, entry, bundlePath, manifestPath }, say) {
  say(`preparing the ${label} (bundling its TypeScript once; again only after a change)...`);
  // Loaded only here: a start with a fresh bundle never pays for it.
  const esbuild = require('esbuild');
  mkdirSync(cacheDir, { recursive: true });
  const builtAt = Date.now();
  const draft = `${bundlePath}.${process.pid}.draft`;
  const result = esbuild.buildSync({
    entryPoints: [entry],
    absWorkingDir: projectRoot,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    outfile: draft,
    external,
    keepNames: true,
    metafile: true,
    // Where the sources are: infra/stack/stack-settings.ts reads it instead of the bundle's own __dirname.
    define: { MONGO_CDC_PROJECT_ROOT: JSON.stringify(projectRoot) },
    logLevel: 'error',
  });
  const sources = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('node_modules/'));
  // Renamed into place, so a start running at the same moment reads the old bundle or the new one, never half of one.
  renameSync(draft, bundlePath);
  writeFileSync(manifestPath, `${JSON.stringify({ node: process.version, projectRoot, builtAt, installedTree: mtime(installedTree) ?? 0, sources })}\n`);
}

function freshBundle(target, say) {
  if (!isFresh(target)) {
    try {
      build(target, say);
    } catch (error) {
      rmSync(`${target.bundlePath}.${process.pid}.draft`, { force: true });
      throw error;
    }
  }
  return target.bundlePath;
}

/**
 * The path of an up-to-date bundle of the local runtime, built first when missing or stale (or the checkout moved). Its
 * paths resolve as from the sources (the bundle's own __dirname is not used for them: see infra/stack/stack-settings.ts).
 */
function localRuntimeBundle(say = (text) => process.stderr.write(`${text}\n`)) {
  // The relay's threads (its read thread and the snapshot's reading thread) run their own bundle, found beside the
  // runtime's (functions/relay/relay-worker.ts).
  freshBundle(bundleOf('relay-worker', 'functions/relay/relay-worker.ts', "relay's threads"), say);
  return freshBundle(bundleOf('local-runtime', 'infra/local/cli.ts', 'local runtime'), say);
}

/** The same for the ops CLI (`npx mongo-cdc`), whose every command would otherwise first compile its TypeScript. */
function opsCliBundle(say = (text) => process.stderr.write(`${text}\n`)) {
  return freshBundle(bundleOf('ops-cli', 'infra/ops/cli.ts', 'mongo-cdc command line'), say);
}

module.exports = { localRuntimeBundle, opsCliBundle };
