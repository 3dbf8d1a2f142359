// Node 20 is supported for local runs; the SDK's notice about its future Node 22 minimum is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { parseArgs } from 'node:util';
import { stackUp } from '../../infra/stack/stack';
import { ALL_FAULTS, describeReport, type Fault, runChaos } from './chaos-run';

const USAGE = `usage: npm run chaos -- [--seed N] [--seconds S] [--rate OPS_PER_SECOND] [--ids N] [--faults a,b,...] [--json]
  faults: ${ALL_FAULTS.join(', ')} (default: all)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      seconds: { type: 'string', default: '180' },
      rate: { type: 'string', default: '15' },
      ids: { type: 'string', default: '120' },
      faults: { type: 'string', default: ALL_FAULTS.join(',') },
      outage: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const faults = values.faults.split(',').filter(Boolean) as Fault[];
  const unknown = faults.filter((fault) => !ALL_FAULTS.includes(fault));
  if (unknown.length > 0) {
    console.error(`unknown fault(s): ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  console.log(`chaos seed ${seed}`);
  await stackUp((line) => console.log(`[stack] ${line}`));
  const report = await runChaos({
    seed,
    workloadSeconds: Number(values.seconds),
    opsPerSecond: Number(values.rate),
    idsPerCollection: Number(values.ids),
    faults,
    outageSeconds: Number(values.outage),
    large: 0.01,
    oversize: 0.003,
    log: (line) => console.log(`[chaos] ${line}`),
  });
  console.log(describeReport(report));
  if (values.json) console.log(JSON.stringify(report));
  return report.unexplained.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos run failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
