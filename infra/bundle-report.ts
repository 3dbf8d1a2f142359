import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** Lists each function's packaged zip and fails when one outgrows the budget (Lambda cold starts grow with size). */
const MAX_ZIP_BYTES = 1024 * 1024;
const folder = resolve(__dirname, '..', '.serverless');
const zips = readdirSync(folder).filter((name) => name.endsWith('.zip'));
if (zips.length === 0) {
  console.error(`no function packages in ${folder}; did serverless package run?`);
  process.exit(1);
}
let oversized = 0;
for (const zip of zips) {
  const bytes = statSync(resolve(folder, zip)).size;
  const verdict = bytes <= MAX_ZIP_BYTES ? 'ok' : `OVER the ${MAX_ZIP_BYTES / 1024} KiB budget`;
  if (bytes > MAX_ZIP_BYTES) oversized++;
  console.log(`${zip.padEnd(24)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB zipped  ${verdict}`);
}
process.exit(oversized > 0 ? 1 : 0);
