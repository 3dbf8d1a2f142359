import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { extractZip, median, offlineEnvironment, packagedFunctions, timeModuleInit } from './package-inspection';

/**
 * Each packaged function: its zip size (fails over the budget: Lambda cold starts grow with package size) and its
 * module init time, the median of several `require()`s of the handler in fresh Node.js processes with the environment
 * the template gives it. Usage: tsx infra/bundle-report.ts [package folder, default .serverless] [runs, default 5]
 */
const MAX_ZIP_BYTES = 1024 * 1024;
const folder = resolve(process.argv[2] ?? resolve(__dirname, '..', '.serverless'));
const runs = Number(process.argv[3] ?? 5);
const sdkModules = resolve(__dirname, '..', 'node_modules');

if (!existsSync(join(folder, 'cloudformation-template-update-stack.json'))) {
  console.error(`no packaged service in ${folder}; did serverless package run?`);
  process.exit(1);
}
const functions = packagedFunctions(folder);
if (functions.length === 0) {
  console.error(`no functions in the template in ${folder}`);
  process.exit(1);
}

let failed = 0;
console.log(`${'package'.padEnd(28)} ${'zipped'.padStart(10)}  ${`init (median of ${runs})`.padStart(22)}  verdict`);
for (const fn of functions) {
  const bytes = statSync(fn.zip).size;
  const scratch = mkdtempSync(join(tmpdir(), 'mongo-cdc-bundle-'));
  let init = 'n/a';
  const problems: string[] = [];
  try {
    extractZip(fn.zip, scratch);
    const environment = offlineEnvironment(fn.environment);
    const timings = Array.from({ length: runs }, () => timeModuleInit(scratch, fn.handler, environment, sdkModules));
    init = `${median(timings).toFixed(0)} ms`;
  } catch (error) {
    problems.push(`does not load: ${(error as Error).message}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (bytes > MAX_ZIP_BYTES) problems.push(`OVER the ${MAX_ZIP_BYTES / 1024} KiB budget`);
  if (problems.length > 0) failed++;
  const name = fn.zip.split('/').pop() ?? fn.zip;
  console.log(`${name.padEnd(28)} ${`${(bytes / 1024).toFixed(0)} KiB`.padStart(10)}  ${init.padStart(22)}  ${problems.length ? problems.join('; ') : 'ok'}`);
}
console.log(`(init: require() of the handler on this machine (${process.arch}, Node.js ${process.version}); Lambda runs arm64 Node.js 22)`);
process.exit(failed > 0 ? 1 : 0);
