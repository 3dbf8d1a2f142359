import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { compileLauncher, jarsIn, resolveArtifacts } from '../artifacts';
import { spawnDetached } from '../process-control';
import { bindHost, javaHeap, ports, standInOplogEntries, stateDir } from '../stack-settings';
import { endpoints, external } from '../endpoints';
import type { LocalService, ProbeResult } from './local-service';

export type MongoKind = 'real-mongod' | 'stand-in';

const REPLICA_SET = 'rs0';
const MONGO_JAVA_SERVER_VERSION = '1.47.0';

/**
 * MongoDB for the local stack, in tiers: a user's own deployment (MONGODB_URI) is used as it is; otherwise a real
 * `mongod` binary (MONGOD_BINARY, or `mongod` on PATH, e.g. one mongodb-memory-server downloaded) runs as a
 * single-node replica set; otherwise the wire-compatible mongo-java-server stand-in, whose launcher replaces the
 * library's change streams with ones that follow MongoDB's (bounded oplog of STACK_MONGODB_OPLOG_ENTRIES entries);
 * CONTRIBUTING.md ("The MongoDB stand-in") lists what still differs, and why.
 */
export function mongodbService(): LocalService {
  const port = ports.mongodb();
  const mongod = findMongod();
  const kind: MongoKind = mongod ? 'real-mongod' : 'stand-in';
  let classpath = '';
  const oplogEntries = standInOplogEntries();

  return {
    name: 'mongodb',
    port,
    address: endpoints.mongodbUri(),
    externalVariable: 'MONGODB_URI',
    isExternal: external.mongodb(),
    startTimeoutMs: 60_000,

    async prepare(progress) {
      if (mongod) return;
      const jars = jarsIn(resolveArtifacts('mongo', progress));
      // launchers/mongo/*.java, compiled together: MongoStandIn (main, network), StandInBackend (commands), ChangeLog
      // (the bounded oplog), RecordingCollection (logs each write), ChangeStreamCursor/ChangeStreamGetMore (events,
      // waiting getMores), ResumeToken, UpdateDescription, BinarySubtypes.
      classpath = `${jars}:${compileLauncher('mongo', jars)}`;
    },

    async spawn() {
      if (mongod) {
        const dbPath = resolve(stateDir, 'mongodb', 'data');
        mkdirSync(dbPath, { recursive: true });
        const pid = spawnDetached('mongodb', mongod, [
          '--replSet',
          REPLICA_SET,
          '--bind_ip',
          bindHost,
          '--port',
          String(port.port),
          '--dbpath',
          dbPath,
        ]);
        return { pid, description: `real mongod (${mongod}), replica set ${REPLICA_SET}` };
      }
      const pid = spawnDetached('mongodb', 'java', [
        `-Xmx${javaHeap.mongodb}`,
        '-XX:+UseParallelGC',
        // Connection chatter and the per-getMore "non-empty cursor" notice would drown real problems in the log.
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.backend.aggregation.Aggregation=error',
        '-cp',
        classpath,
        'MongoStandIn',
        bindHost,
        String(port.port),
        '--oplog-entries',
        String(oplogEntries),
      ]);
      return {
        pid,
        description: `stand-in: mongo-java-server ${MONGO_JAVA_SERVER_VERSION} with MongoDB 6.0 change streams, oplog of ${oplogEntries} entries`,
      };
    },

    async afterReady() {
      if (kind === 'real-mongod') await initiateReplicaSet(port.port);
    },

    probe: () => probeMongodb(endpoints.mongodbUri()),
  };
}

function findMongod(): string | undefined {
  const explicit = process.env.MONGOD_BINARY;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`MONGOD_BINARY=${explicit} does not exist`);
    return explicit;
  }
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = resolve(folder, 'mongod');
    if (folder !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function initiateReplicaSet(port: number): Promise<void> {
  const client = new MongoClient(`mongodb://${bindHost}:${port}/?directConnection=true`, {
    serverSelectionTimeoutMS: 5_000,
  });
  try {
    const admin = client.db('admin');
    // isMaster, not hello: servers before 4.4.2 know only the legacy handshake, and every server still answers it.
    const hello = await admin.command({ isMaster: 1 });
    if (!hello.setName) {
      await admin.command({
        replSetInitiate: { _id: REPLICA_SET, members: [{ _id: 0, host: `${bindHost}:${port}` }] },
      });
    }
    for (let attempt = 0; attempt < 60; attempt++) {
      if ((await admin.command({ hello: 1 })).isWritablePrimary) return;
      await new Promise((done) => setTimeout(done, 500));
    }
    throw new Error('the local mongod did not become primary within 30 s');
  } finally {
    await client.close();
  }
}

export interface MongoIdentity extends ProbeResult {
  readonly kind?: MongoKind;
  readonly version?: string;
}

/** Tells a real mongod from the stand-in by what the server reports about itself. */
export async function probeMongodb(uri: string): Promise<MongoIdentity> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3_000, connectTimeoutMS: 3_000 });
  try {
    const admin = client.db('admin');
    const build = await admin.command({ buildInfo: 1 });
    // isMaster, not hello: servers before 4.4.2 know only the legacy handshake, and every server still answers it.
    const hello = await admin.command({ isMaster: 1 });
    const version = String(build.version ?? 'unknown');
    // mongo-java-server answers buildInfo without a gitVersion.
    const kind: MongoKind = build.gitVersion ? 'real-mongod' : 'stand-in';
    const topology = hello.setName ? `replica set ${hello.setName}` : 'no replica set';
    const what = kind === 'real-mongod' ? `real mongod ${version}` : `stand-in mongo-java-server (declares ${version})`;
    return { answering: true, detail: `${what}, ${topology}`, kind, version };
  } catch (error) {
    return { answering: false, detail: (error as Error).message };
  } finally {
    await client.close().catch(() => undefined);
  }
}


