'use strict';
// What `npm start` runs: node itself, with no wrapper process that could kill the runtime mid-shutdown. First the
// Ctrl-C guard, then the local runtime from its bundle (built on the first start and after a change: see
// runtime-bundle.cjs), so a start spends its time connecting, not compiling TypeScript.
require('./early-signals.cjs');
const { localRuntimeBundle } = require('./runtime-bundle.cjs');

// Our own message, in the runtime's style: a readable line on a terminal, a JSON event otherwise.
const say = (text) =>
  process.stdout.write(process.stdout.isTTY ? `${text}\n` : `${JSON.stringify({ time: new Date().toISOString(), event: 'local.bundling', message: text })}\n`);

let bundle;
try {
  bundle = localRuntimeBundle(say);
} catch (error) {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'local.failed', error: `could not bundle the local runtime: ${error.message}` })}\n`);
  process.exit(1);
}
require(bundle);
