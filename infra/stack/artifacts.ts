import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { artifactsDir, projectRoot, stateDir } from './stack-settings';

/** This folder, named from the project root so the local runtime's bundle finds it too. */
const stackSources = resolve(projectRoot, 'infra', 'stack');

const pomPath = (service: string) => resolve(stackSources, 'artifacts', `${service}.pom.xml`);
/** A launcher is one source file (launchers/<Name>.java) or a folder of them (launchers/<folder>/*.java). */
function launcherSources(name: string): string[] {
  const folder = resolve(stackSources, 'launchers', name);
  if (existsSync(folder) && statSync(folder).isDirectory()) {
    return readdirSync(folder)
      .filter((file) => file.endsWith('.java'))
      .sort()
      .map((file) => resolve(folder, file));
  }
  return [resolve(stackSources, 'launchers', `${name}.java`)];
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

/**
 * Resolves a service's jars (or distribution zip) from Maven Central into the state folder, once: a stamp holding the
 * POM's hash marks a complete copy, so an interrupted download is simply redone and a changed version re-resolves.
 */
export function resolveArtifacts(service: string, progress: (line: string) => void): string {
  const target = resolve(artifactsDir, service);
  const stampPath = resolve(target, '.resolved');
  const stamp = digest(readFileSync(pomPath(service), 'utf8'));
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) return target;

  progress(`${service}: resolving artifacts with Maven (first run on this machine downloads them)`);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  try {
    execFileSync(
      'mvn',
      ['-q', '-B', '-f', pomPath(service), 'dependency:copy-dependencies', `-DoutputDirectory=${target}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const output = error instanceof Error && 'stdout' in error ? String((error as { stdout: unknown }).stdout) : '';
    throw new Error(`Maven could not resolve the ${service} artifacts (is Maven installed?):\n${output.slice(-2000)}`, {
      cause: error,
    });
  }
  writeFileSync(stampPath, stamp);
  return target;
}

export function jarsIn(folder: string): string {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.jar'))
    .map((name) => resolve(folder, name))
    .join(':');
}

/** Compiles one of the stack's Java launchers (a file or a folder of files) against a classpath, once per source change. */
export function compileLauncher(name: string, classpath: string): string {
  const sources = launcherSources(name);
  const outDir = resolve(stateDir, 'classes', name);
  const stampPath = resolve(outDir, '.compiled');
  const stamp = digest(...sources.map((source) => readFileSync(source, 'utf8')), classpath);
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === stamp) return outDir;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  execFileSync('javac', ['-nowarn', '-cp', classpath, '-d', outDir, ...sources], { stdio: ['ignore', 'pipe', 'inherit'] });
  writeFileSync(stampPath, stamp);
  return outDir;
}
