import { type ChildProcess, spawn } from 'node:child_process';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { BSON, type Document, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAttributeMap } from '../../functions/sink-dynamodb/dynamo-item';
import { RESERVED_ATTRIBUTES } from '../../functions/sink-dynamodb/dynamo-reporting-store';
import { indexName, searchDocumentId, toSearchDocument } from '../../functions/sink-opensearch/search-document';
import { dropTable, localDynamo, localKafka } from '../../test/support/local-clients';
import { uniqueName } from '../../test/support/unique-name';
import { endpoints } from '../stack/endpoints';
import { projectRoot } from '../stack/stack-settings';

interface Run {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  /** npm waits for the runtime, then ends the way a shell expects: with the runtime's code, or by the signal it got. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

/** `npm start` in its own process group, as a terminal runs it, so a signal reaches every process it started. */
function npmStart(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn('npm', ['start', '--silent', '--', ...args], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // Not every line is JSON (npm's own notices); only the runtime's events matter here.
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    // 'close', not 'exit': the output is only complete once the pipes are.
    child.on('close', (code, signal) => done({ code, signal })),
  );
  return { child, lines, exited, stderr: () => stderr };
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

const exact = { relaxed: false } as const;

/** DynamoDB stores a number's value, not its spelling (Decimal128 "455.40" reads back as "455.4"): compare values. */
function numbersByValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(numbersByValue);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, inner]) =>
      name === 'N' && typeof inner === 'string'
        ? [name, inner.includes('.') ? inner.replace(/0+$/, '').replace(/\.$/, '') : inner]
        : [name, numbersByValue(inner)],
    ),
  );
}
// The relay reads with these options, so the expected store contents are built from MongoDB exactly as it sees it.
const asRelayed = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

describe('npm start runs the whole pipeline locally', () => {
  const db = uniqueName('local').replaceAll('-', '_');
  const controlTable = uniqueName('local-control');
  const reportingTable = uniqueName('local-reporting');
  const indexTemplate = `${uniqueName('local')}-{db}-{coll}`;
  const dynamo = localDynamo();
  const mongo = new MongoClient(endpoints.mongodbUri());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify([
      { id: `${db}-customers`, database: db, collection: 'customers' },
      { id: `${db}-orders`, database: db, collection: 'orders' },
    ]),
    CONTROL_TABLE: controlTable,
    REPORTING_TABLE: reportingTable,
    SINK_INDEX_TEMPLATE: indexTemplate,
    SINK_DEAD_LETTER_TOPIC: uniqueName('local-sink-dlq'),
    // Batches as small as the event source allows, so a stop lands mid-stream rather than between batches.
    SINK_BATCH_SIZE: '50',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };

  beforeAll(async () => {
    await mongo.connect();
  });
  afterAll(async () => {
    await dropTable(dynamo, controlTable);
    await dropTable(dynamo, reportingTable);
    await fetch(`${endpoints.opensearch()}/${indexTemplate.replace('{db}-{coll}', '*')}`, { method: 'DELETE' }).catch(() => undefined);
    const admin = localKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [`mongo-cdc.${db}.customers`, `mongo-cdc.${db}.orders`] }).catch(() => undefined);
    await admin.disconnect();
    await mongo.close();
    dynamo.destroy();
  });

  it('stops cleanly on Ctrl-C mid-demo, then a bounded run drains the rest: table and index equal MongoDB', async () => {
    // Act 1: the demo writes, changes flow, then Ctrl-C reaches the whole process group.
    const first = npmStart(['--demo', '--rate', '60'], env);
    await waitFor(
      'changes applied by both sinks',
      // After the initial snapshots of the seeded documents, so the stop lands among live changes.
      () =>
        first.lines.some(
          (line) =>
            line.event === 'local.status' &&
            (line.sinks as Array<{ applied: number }>).every((sink) => sink.applied > 20) &&
            (line.streams as Array<{ snapshotRunning?: boolean; snapshot?: string }>).every((stream) => stream.snapshot && !stream.snapshotRunning),
        ),
      90_000,
    );
    const interruptedAt = Date.now();
    process.kill(-(first.child.pid ?? 0), 'SIGINT');
    const firstExit = await first.exited;
    const stopMs = Date.now() - interruptedAt;
    await waitFor('no process of the run left', () => !groupAlive(first.child.pid ?? 0), 10_000);

    // Assess 1: a clean exit that released every lease.
    expect(firstExit).toEqual({ code: null, signal: 'SIGINT' });
    expect(stopMs).toBeLessThan(20_000);
    expect(first.lines.find((line) => line.event === 'local.stopping')).toMatchObject({ reason: 'SIGINT' });
    expect(first.lines.map((line) => line.event)).toContain('local.stopped');
    // The demo started with existing documents, which the initial snapshots copy (progress shown per stream).
    expect(first.lines.find((line) => line.event === 'local.demo-seeded')).toMatchObject({ documents: 3_000 });
    const done = (line: Record<string, unknown>) =>
      (line.streams as Array<{ snapshot?: string }> | undefined)?.every((stream) => /^done: \d+ documents copied/.test(stream.snapshot ?? ''));
    expect(first.lines.some((line) => line.event === 'local.status' && done(line))).toBe(true);
    const control = (await dynamo.send(new ScanCommand({ TableName: controlTable, ConsistentRead: true }))).Items ?? [];
    expect(control.map((item) => item.streamId?.S).sort()).toEqual([`${db}-customers`, `${db}-orders`]);
    for (const item of control) expect(item.leaseOwner).toBeUndefined();

    // Act 2: a bounded run with no demo picks up whatever the stop left behind and exits once drained.
    const second = npmStart(['--duration', '0'], env);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.lines.find((line) => line.event === 'local.stopping')).toMatchObject({ reason: 'drained' });

    // Assess 2: every document, exactly, in both stores; deletes are tombstones.
    for (const collection of ['customers', 'orders']) {
      const truth = await mongo.db(db).collection(collection).find({}, asRelayed).toArray();
      expect(truth.length).toBeGreaterThan(5);
      const keyOf = (document: Document) => `${db}.${collection}|${BSON.EJSON.stringify({ _id: document._id }, exact)}`;

      const items: Array<Record<string, AttributeValue>> = [];
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await dynamo.send(new ScanCommand({ TableName: reportingTable, ConsistentRead: true, ExclusiveStartKey: startKey }));
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      const live = new Map(
        items
          .filter((item) => item._ns?.S === `${db}.${collection}` && item._op?.S !== 'delete')
          .map((item) => [item._key?.S ?? '', Object.fromEntries(Object.entries(item).filter(([name]) => !(RESERVED_ATTRIBUTES as readonly string[]).includes(name)))]),
      );
      expect([...live.keys()].sort()).toEqual(truth.map(keyOf).sort());
      for (const document of truth) expect(numbersByValue(live.get(keyOf(document)))).toEqual(numbersByValue(toAttributeMap(document)));

      const index = indexName(indexTemplate, { db, coll: collection });
      await fetch(`${endpoints.opensearch()}/${index}/_refresh`, { method: 'POST' });
      const search = (await (await fetch(`${endpoints.opensearch()}/${index}/_search?size=10000`)).json()) as {
        hits: { hits: Array<{ _id: string; _source: Record<string, unknown> }> };
      };
      const indexed = new Map(search.hits.hits.map((hit) => [hit._id, hit._source]));
      const idOf = (document: Document) => searchDocumentId(BSON.EJSON.stringify({ _id: document._id }, exact));
      expect([...indexed.keys()].sort()).toEqual(truth.map(idOf).sort());
      for (const document of truth) expect(indexed.get(idOf(document))).toEqual(JSON.parse(JSON.stringify(toSearchDocument(document))));
    }
  });

  it('fails at start-up naming a malformed variable, before touching any service', async () => {
    const run = npmStart([], { ...env, SINK_BATCH_SIZE: 'lots' });
    expect(await run.exited).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toMatch(/environment variable SINK_BATCH_SIZE: /);
    expect(run.lines.map((line) => line.event)).not.toContain('local.stack');
  });
});
