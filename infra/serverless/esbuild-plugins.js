// esbuild plugins for serverless-esbuild (serverless.yml, custom.esbuild.plugins): the worker-thread bundles beside the
// function bundles that start them (infra/worker-bundles.cjs).
'use strict';

const { workerBundlesPlugin } = require('../worker-bundles.cjs');

module.exports = [workerBundlesPlugin()];
