'use strict';
// Loaded with `node --require` before anything else of the local runtime: a Ctrl-C that arrives while the TypeScript
// modules are still loading (a second or two) is remembered instead of killing the process by default, so the runtime
// can still stop cleanly and say so. cli.ts takes over the signals and reads what arrived here.
const key = Symbol.for('mongo-cdc.early-signals');
const received = [];
globalThis[key] = received;
const remember = (signal) => received.push({ signal, at: Date.now() });
process.on('SIGINT', remember);
process.on('SIGTERM', remember);
globalThis[Symbol.for('mongo-cdc.early-signals.release')] = () => {
  process.off('SIGINT', remember);
  process.off('SIGTERM', remember);
};
