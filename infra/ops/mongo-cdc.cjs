#!/usr/bin/env node
'use strict';
// The ops CLI is TypeScript loaded through tsx (installed with this repository), so there is no build step to forget.
// Node 20 is supported here; the AWS SDK's notice about its future Node 22 minimum is noise in command output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs');
const { runCli } = require('./cli.ts');

runCli(process.argv.slice(2), process.env, { out: (text) => console.log(text), err: (text) => console.error(text) }).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
