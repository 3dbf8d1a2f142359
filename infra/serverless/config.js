// What serverless.yml loads (Serverless Framework v3 calls the exported function while resolving ${file(...)}
// variables): reads every setting serverless was given and validates them with the TypeScript schema in
// deploy-settings.ts, loaded through tsx (a dev dependency, as serverless itself is), so nothing is compiled ahead.
// functions.js and resources.js build the functions and the CloudFormation resources from the result.
'use strict';

const { require: tsxRequire } = require('tsx/cjs/api');

/** @type {typeof import('./deploy-settings')} */
const settings = tsxRequire('./deploy-settings.ts', __filename);

/** The names of the --param options on the command line and of the stage's `params:` in serverless.yml. */
async function givenParamNames(resolveVariable, stage) {
  const names = new Set();
  const cli = await resolveVariable('opt:param, null');
  for (const entry of [cli ?? []].flat()) {
    const name = String(entry).split('=')[0].trim();
    if (name) names.add(name);
  }
  const declared = (await resolveVariable('self:params, null')) ?? {};
  for (const scope of [declared.default, declared[stage]]) for (const name of Object.keys(scope ?? {})) names.add(name);
  return [...names];
}

async function readSettings(resolveVariable) {
  const stage = await resolveVariable('sls:stage');
  const service = await resolveVariable('self:service');
  const fromParams = {};
  // Every name given, known or not: an unknown one (a misspelt --param) is reported, never ignored.
  const names = new Set([...settings.KNOWN, ...(await givenParamNames(resolveVariable, stage))]);
  for (const name of names) {
    const value = settings.KNOWN.includes(name) ? await resolveVariable(`param:${name}, null`) : 'given';
    if (value !== null && value !== undefined && value !== '') fromParams[name] = value;
  }
  let fromFile = {};
  if (fromParams.config) {
    fromFile = await resolveVariable(`file(${fromParams.config}), null`);
    if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new Error(`mongo-cdc settings: config file ${fromParams.config} is missing or is not a map of settings`);
    }
  }
  return { stage, service, fromParams, fromFile };
}

let pending;

/** The validated settings; computed once per serverless run (functions.js and resources.js share them). */
async function loadConfig(resolveVariable) {
  // Serverless resolves variables in phases and rejects a variable whose source is not ready yet; such a failure
  // must not be remembered, or the later, successful phase would see it.
  if (!pending) {
    pending = readSettings(resolveVariable).then((raw) => settings.buildConfig(raw));
    pending.catch(() => {
      pending = undefined;
    });
  }
  return pending;
}

module.exports = async ({ resolveVariable }) => loadConfig(resolveVariable);
module.exports.loadConfig = loadConfig;
