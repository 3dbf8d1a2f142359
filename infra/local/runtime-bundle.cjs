'use strict';
// The local runtime (infra/local/cli.ts and everything it imports) bundled into one CommonJS file with esbuild, rebuilt
// only when a source file changed. Loading one bundle takes about a third of the CPU time of loading the TypeScript
// through tsx (its loader thread, esbuild transforms and thousands of module lookups), which on a busy machine is
// seconds of every start, before anything can relay.
const { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const projectRoot = resolve(__dirname, '..', '..');
const entry = resolve(projectRoot, 'infra', 'local', 'cli.ts');
const cacheDir = resolve(projectRoot, 'node_modules', '.cache', 'mongo-cdc');
const bundlePath = join(cacheDir, 'local-runtime.cjs');
const manifestPath = join(cacheDir, 'local-runtime.json');
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

/** True when the bundle exists and no project file it was built from (nor the installed dependencies) changed since. */
function isFresh() {
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

function build(say) {
  say('preparing the local runtime (bundling its TypeScript once; again only after a change)...');
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

/**
 * The path of an up-to-date bundle of the local runtime, built first when missing or stale (or the checkout moved). Its
 * paths resolve as from the sources (the bundle's own __dirname is not used for them: see infra/stack/stack-settings.ts).
 */
function localRuntimeBundle(say = (text) => process.stderr.write(`${text}\n`)) {
  if (!isFresh()) {
    try {
      build(say);
    } catch (error) {
      rmSync(`${bundlePath}.${process.pid}.draft`, { force: true });
      throw error;
    }
  }
  return bundlePath;
}

module.exports = { localRuntimeBundle, bundlePath };
