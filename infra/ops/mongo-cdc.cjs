#!/usr/bin/env node
'use strict';
// The ops CLI is TypeScript, run from a bundle built on first use and again after a change (infra/local/runtime-bundle.cjs),
// so there is no build step to forget and a command does not spend seconds compiling before it talks to anything.
// Node 20 is supported here; the AWS SDK's notice about its future Node 22 minimum is noise in command output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { opsCliBundle } = require('../local/runtime-bundle.cjs');

let cli;
try {
  cli = require(opsCliBundle());
} catch (error) {
  console.error(`mongo-cdc: could not bundle the command line: ${error.message}`);
  process.exit(1);
}

cli.runCli(process.argv.slice(2), process.env, { out: (text) => console.log(text), err: (text) => console.error(text) }).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
