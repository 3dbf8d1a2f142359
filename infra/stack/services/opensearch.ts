import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveArtifacts } from '../artifacts';
import { spawnDetached } from '../process-control';
import { bindHost, javaHeap, logsDir, ports, stateDir } from '../stack-settings';
import { endpoints, external } from '../endpoints';
import type { LocalService, ProbeResult } from './local-service';

const home = resolve(stateDir, 'opensearch');
const distParent = resolve(home, 'dist');
const configDir = resolve(home, 'config');
const dataDir = resolve(home, 'data');
const serviceLogs = resolve(logsDir, 'opensearch');
/** OpenSearch refuses to run as root, so the stack runs it as this system user when it is itself root. */
const RUN_AS_USER = 'mongo-cdc-opensearch';

/**
 * OpenSearch 2.x from Maven Central's integ-test-zip (only the transport module: enough for indices, mappings and
 * _bulk with external versions). 3.x needs Java 21, which this stack does not assume.
 */
export function opensearchService(): LocalService {
  const port = ports.opensearch();
  const transportPort = ports.opensearchTransport();
  let distHome = '';

  return {
    name: 'opensearch',
    port,
    address: endpoints.opensearch(),
    externalVariable: 'OPENSEARCH_URL',
    isExternal: external.opensearch(),
    startTimeoutMs: 180_000,

    async prepare(progress) {
      const folder = resolveArtifacts('opensearch', progress);
      const zip = readdirSync(folder).find((name) => name.endsWith('.zip'));
      if (!zip) throw new Error(`no OpenSearch zip in ${folder}`);
      distHome = resolve(distParent, zip.replace(/\.zip$/, ''));
      if (!existsSync(resolve(distHome, 'bin', 'opensearch'))) {
        progress('opensearch: unpacking the distribution');
        rmSync(distParent, { recursive: true, force: true });
        mkdirSync(distParent, { recursive: true });
        // The JDK's jar tool unpacks zips on any machine that has Java, without assuming unzip is installed.
        execFileSync('jar', ['xf', resolve(folder, zip)], { cwd: distParent });
        for (const script of readdirSync(resolve(distHome, 'bin'))) chmodSync(resolve(distHome, 'bin', script), 0o755);
      }
      writeConfig(distHome, port.port, transportPort.port);
      mkdirSync(dataDir, { recursive: true });
      mkdirSync(serviceLogs, { recursive: true });
      if (process.getuid?.() === 0) {
        ensureSystemUser(progress);
        for (const folder of [configDir, dataDir, serviceLogs]) {
          execFileSync('chown', ['-R', `${RUN_AS_USER}:${RUN_AS_USER}`, folder]);
        }
      }
    },

    async spawn() {
      const javaHome = process.env.JAVA_HOME ?? javaHomeFromPath();
      const env = {
        ...process.env,
        OPENSEARCH_JAVA_HOME: javaHome,
        OPENSEARCH_PATH_CONF: configDir,
        OPENSEARCH_JAVA_OPTS: `-Xms${javaHeap.opensearch} -Xmx${javaHeap.opensearch}`,
      };
      const launcher = resolve(distHome, 'bin', 'opensearch');
      const pid =
        process.getuid?.() === 0
          ? spawnDetached(
              'opensearch',
              'setpriv',
              [`--reuid=${RUN_AS_USER}`, `--regid=${RUN_AS_USER}`, '--init-groups', launcher],
              { env, cwd: serviceLogs },
            )
          : spawnDetached('opensearch', launcher, [], { env, cwd: serviceLogs });
      const version = /opensearch-([\d.]+)$/.exec(distHome)?.[1] ?? 'unknown';
      return { pid, description: `OpenSearch ${version} (integ-test distribution, single node)` };
    },

    probe: () => probeOpensearch(endpoints.opensearch()),
  };
}

function writeConfig(distHome: string, httpPort: number, transportPort: number): void {
  rmSync(configDir, { recursive: true, force: true });
  cpSync(resolve(distHome, 'config'), configDir, { recursive: true });
  // The shipped jvm.options writes GC logs and heap dumps relative to the working folder; point them at ours.
  const jvmOptions = readFileSync(resolve(configDir, 'jvm.options'), 'utf8')
    .replaceAll('file=logs/gc.log', `file=${serviceLogs}/gc.log`)
    .replace(/^-Xm[sx]\S+$/gm, '')
    .replace('-XX:HeapDumpPath=data', `-XX:HeapDumpPath=${serviceLogs}`)
    .replace('-XX:ErrorFile=logs/', `-XX:ErrorFile=${serviceLogs}/`);
  writeFileSync(resolve(configDir, 'jvm.options'), jvmOptions);
  writeFileSync(
    resolve(configDir, 'opensearch.yml'),
    `# Written by the local stack on every start; edit infra/stack/services/opensearch.ts instead.
cluster.name: mongo-cdc-local
node.name: local
network.host: ${bindHost}
http.port: ${httpPort}
transport.port: ${transportPort}
discovery.type: single-node
path.data: ${dataDir}
path.logs: ${serviceLogs}
action.auto_create_index: true
cluster.routing.allocation.disk.threshold_enabled: false
`,
  );
}

function ensureSystemUser(progress: (line: string) => void): void {
  try {
    execFileSync('id', ['-u', RUN_AS_USER], { stdio: 'ignore' });
  } catch {
    progress(`opensearch: creating system user ${RUN_AS_USER} (OpenSearch will not run as root)`);
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS_USER]);
  }
}

function javaHomeFromPath(): string {
  const javaBinary = execFileSync('readlink', ['-f', execFileSync('which', ['java']).toString().trim()])
    .toString()
    .trim();
  return resolve(javaBinary, '..', '..');
}

export async function probeOpensearch(url: string): Promise<ProbeResult> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) return { answering: false, detail: `HTTP ${response.status}` };
    const body = (await response.json()) as { version?: { number?: string; distribution?: string } };
    const product = body.version?.distribution === 'opensearch' ? 'OpenSearch' : 'Elasticsearch';
    return { answering: true, detail: `${product} ${body.version?.number ?? 'unknown'}` };
  } catch (error) {
    return { answering: false, detail: (error as Error).message };
  }
}
