// Node 20 is supported for local tooling; the SDK's notice about its future Node 22 minimum is noise in stack output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import type { ServiceName } from './services/local-service';
import { type ServiceStatus, stackDown, stackStatus, stackUp } from './stack';

const usage = 'usage: tsx infra/stack/cli.ts up|status|down [kafka|dynamodb|mongodb|opensearch ...]';
const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'dynamodb', 'mongodb', 'opensearch'];

const progress = (line: string) => console.log(`[stack] ${line}`);

function printStatus(statuses: ServiceStatus[]): void {
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
  for (const status of statuses) {
    console.log(
      [
        status.name.padEnd(11),
        (status.answering ? 'answering' : 'NOT answering').padEnd(14),
        status.address.padEnd(48),
        (status.pid ? `pid ${status.pid}` : status.managed).padEnd(11),
        (status.residentBytes ? mib(status.residentBytes) : '').padEnd(9),
        status.detail,
      ].join(' '),
    );
  }
  const total = statuses.reduce((sum, status) => sum + (status.residentBytes ?? 0), 0);
  console.log(`total resident memory of the processes the stack started: ${mib(total)}`);
}

async function main(): Promise<number> {
  const [command, ...names] = process.argv.slice(2);
  const unknown = names.filter((name) => !SERVICE_NAMES.includes(name as ServiceName));
  if (unknown.length > 0) {
    console.error(`unknown service(s): ${unknown.join(', ')}\n${usage}`);
    return 2;
  }
  const only = names.length > 0 ? (names as ServiceName[]) : undefined;
  switch (command) {
    case 'up':
      printStatus(await stackUp(progress, only));
      return 0;
    case 'status': {
      const statuses = await stackStatus(only);
      printStatus(statuses);
      return statuses.every((status) => status.answering) ? 0 : 1;
    }
    case 'down':
      await stackDown(progress, only);
      return 0;
    default:
      console.error(usage);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[stack] ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
