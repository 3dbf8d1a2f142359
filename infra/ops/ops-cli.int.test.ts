import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaDeadLetterSink } from '../../shared/dead-letter';
import { encodeChangeEvent } from '../../shared/record-format';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { endpoints } from '../stack/endpoints';
import { readAllRecords } from '../../test/support/local-clients';
import { RelayHarness } from '../../test/support/relay-harness';
import { uniqueName } from '../../test/support/unique-name';
import { runCli } from './cli';
import { createServedTopics } from '../../test/support/test-topics';

/** Polls a condition (here: the wall clock passing a point), never a fixed sleep. */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((done) => setTimeout(done, 50));
}

interface CliResult {
  code: number;
  out: string;
  err: string;
}

describe('ops CLI against the local stack', () => {
  const relay = new RelayHarness();
  const db = uniqueName('ops');
  const stream = relay.stream({ database: db, collection: 'orders', batch: { maxWaitMs: 50 } });
  const idle = relay.stream({ database: db, collection: 'idle' });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDC_STREAMS: JSON.stringify([
      { id: stream.id, database: db, collection: 'orders' },
      { id: idle.id, database: db, collection: 'idle' },
    ]),
    CONTROL_TABLE: relay.table,
    DYNAMODB_ENDPOINT: endpoints.dynamodb(),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
    MONGODB_URI: endpoints.mongodbUri(),
    MONGO_CDC_OPERATOR: 'ops-test',
  };
  const cli = async (...argv: string[]): Promise<CliResult> => {
    const result = { code: 0, out: '', err: '' };
    result.code = await runCli(argv, env, { out: (text) => (result.out += `${text}\n`), err: (text) => (result.err += `${text}\n`) });
    return result;
  };
  const orders = () => relay.mongo.db(db).collection('orders');

  beforeAll(async () => {
    await relay.setUp();
  });
  afterAll(async () => {
    await relay.tearDown();
  });

  it('status shows a stream that never ran, then its checkpoint, cluster time and a free lease after a run', async () => {
    // Prepare
    const before = await cli('status', '--stream', stream.id, '--json');
    expect(before.err).toBe('');
    expect(before.code).toBe(0);
    expect(JSON.parse(before.out)).toEqual([expect.objectContaining({ streamId: stream.id, state: 'never run', eventsRelayed: 0 })]);

    // Act
    await relay.run(stream, 1_000);
    await orders().insertMany(Array.from({ length: 25 }, (_, index) => ({ _id: index, total: index }) as Document));
    await relay.runUntil(stream, async () => (await relay.relayedCount(stream.id)) >= 25);
    const after = await cli('status', '--stream', stream.id, '--json');
    const text = await cli('status');

    // Assess
    expect(after.code).toBe(0);
    const [status] = JSON.parse(after.out) as Array<Record<string, unknown>>;
    expect(status).toMatchObject({ streamId: stream.id, state: 'idle', eventsRelayed: 25, resume: { kind: 'resumeAfter' } });
    expect((status?.resume as { token: string } | undefined)?.token).toMatch(/^\{"_data":/);
    expect((status?.lastEvent as { clusterTime: string } | undefined)?.clusterTime).toMatch(/^\d+\.\d+$/);
    expect(status?.checkpointAgeSeconds).toBeLessThan(60);
    expect(status?.lease).toBeUndefined();
    expect(text.out).toContain(`stream ${stream.id} (${db}.orders): IDLE`);
    expect(text.out).toContain(`stream ${idle.id} (${db}.idle): NEVER RUN`);
    expect(text.out).toMatch(/events relayed\s+25/);
    expect(text.out).toMatch(/lease\s+free/);
  });

  it('refuses bad command lines with a specific message and exit code 2, touching nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['reset', '--stream', 'nope', '--to', 'now'], new RegExp(`unknown stream "nope"; CDC_STREAMS configures: ${stream.id}, ${idle.id}`)],
      [['reset', '--stream', stream.id, '--to', 'yesterday'], /--to must be an ISO 8601 time with a zone.*"yesterday"/],
      [['reset', '--stream', stream.id, '--to', '2026-11-24 10:00'], /--to must be an ISO 8601 time/],
      [['reset', '--stream', stream.id, '--to', '2999-01-01T00:00:00Z'], /--to 2999-01-01T00:00:00Z is in the future/],
      [['reset', '--stream', stream.id], /--to is required/],
      [['replay', '--stream', stream.id, '--from', 'last week'], /--from must be an ISO 8601 time/],
      [['dlq', 'purge'], /dlq needs "list" or "replay", not "purge"/],
      [['dlq', 'list', '--limit', '0'], /--limit must be a positive integer/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['status', '--colour'], /Unknown option '--colour'/],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(...argv);
      expect({ argv, code: result.code }).toEqual({ argv, code: 2 });
      expect(result.err).toMatch(message);
    }
    const unconfigured = await runCli(['status'], { ...env, CDC_STREAMS: '[{"id":"x","colection":"typo"}]' }, { out: () => undefined, err: () => undefined });
    expect(unconfigured).toBe(2);
  });

  it('reset refuses a healthy stream without --force, restarts a stalled one from now and records the gap', async () => {
    // Prepare: the stream has relayed (first test); an invocation marks it stalled as history loss would.
    const healthy = await cli('reset', '--stream', stream.id, '--to', 'now');
    expect(healthy.code).toBe(2);
    expect(healthy.err).toMatch(/neither stalled nor stopped.*--force/);
    const lease = await relay.store.acquireLease(stream.id, 'stalling-invocation', Date.now() + 60_000, Date.now());
    if (!lease) throw new Error('lease not taken');
    await relay.store.markStalled(lease, 'CHANGE_STREAM_HISTORY_LOST', 'resume token left the oplog');
    const whileHeld = await cli('reset', '--stream', stream.id, '--to', 'now');
    expect(whileHeld.code).toBe(1);
    expect(whileHeld.err).toMatch(/being relayed right now/);
    await relay.store.release(lease);
    const stalled = await cli('status', '--stream', stream.id);
    expect(stalled.code).toBe(1);
    expect(stalled.out).toContain('STALLED');
    expect(stalled.out).toContain('CHANGE_STREAM_HISTORY_LOST: resume token left the oplog');

    // A server without an operation time (the stand-in) makes "now" the wall clock less 2 s (erring towards a repeat,
    // never a loss), so the changes relayed before the stall must be older than that for the count below to be exact.
    // That is a wait on the clock, not on the machine: until the wall clock is 2 s past the last relayed event's second.
    const lastEventSeconds = (await relay.store.read(stream.id))?.lastEvent?.seconds ?? 0;
    await waitUntil(() => Date.now() - 2_000 >= (lastEventSeconds + 1) * 1000 + 100);
    const relayedBefore = await relay.relayedCount(stream.id);

    // Act
    const reset = await cli('reset', '--stream', stream.id, '--to', 'now', '--by', 'alice');
    await orders().insertMany(Array.from({ length: 5 }, (_, index) => ({ _id: 1000 + index }) as Document));
    const runs = await relay.runUntil(stream, async () => (await relay.relayedCount(stream.id)) >= relayedBefore + 5);

    // Assess: the five new changes, and nothing from before the reset.
    expect(reset.code).toBe(0);
    expect(reset.out).toMatch(/gap\s+\S+ -> \S+, reset by alice at/);
    expect(runs.events).toBe(5);
    expect(await relay.relayedCount(stream.id)).toBe(relayedBefore + 5);
    const [status] = JSON.parse((await cli('status', '--stream', stream.id, '--json')).out) as Array<{ state: string; gaps: Array<{ by: string }> }>;
    expect(status?.state).toBe('idle');
    expect(status?.gaps.map((gap) => gap.by)).toEqual(['alice']);
  });

  it('replay moves a stream back so its next run re-relays from that time; refuses a time after the last event', async () => {
    // Prepare
    // From now only: this test counts the changes a replay repeats, not an initial copy.
    const replayStream = relay.stream({ database: db, collection: 'replayed', batch: { maxWaitMs: 50 }, snapshot: 'never' });
    const replayEnv = {
      ...env,
      CDC_STREAMS: JSON.stringify([{ id: replayStream.id, database: db, collection: 'replayed', snapshot: 'never' }]),
    };
    const run = (...argv: string[]) => runCli(argv, replayEnv, { out: () => undefined, err: (text) => errors.push(text) });
    const errors: string[] = [];
    await relay.run(replayStream, 1_000);
    // A clock wait: the replay time must fall after the stream's start and before the inserts, at second precision.
    const startedAt = Date.now();
    await waitUntil(() => Date.now() >= startedAt + 1_100);
    const beforeInserts = new Date(Date.now() - 1_000).toISOString();
    await relay.mongo.db(db).collection('replayed').insertMany(Array.from({ length: 40 }, (_, index) => ({ _id: index }) as Document));
    await relay.runUntil(replayStream, async () => (await relay.relayedCount(replayStream.id)) >= 40);
    const replayTopic = `mongo-cdc.${db}.replayed`;
    expect(await readAllRecords(relay.kafka, [replayTopic])).toHaveLength(40);

    // Act
    const afterLast = await run('replay', '--stream', replayStream.id, '--from', new Date().toISOString());
    const replayed = await run('replay', '--stream', replayStream.id, '--from', beforeInserts, '--by', 'bob');
    const again = await relay.runUntil(replayStream, async () => (await relay.relayedCount(replayStream.id)) >= 80);

    // Assess
    expect(afterLast).toBe(2);
    expect(errors.join('\n')).toMatch(/is after the last relayed event.*use "reset --to" to skip on purpose/);
    expect(replayed).toBe(0);
    expect(again.events).toBe(40);
    const records = await readAllRecords(relay.kafka, [replayTopic]);
    expect(records).toHaveLength(80);
    expect(new Set(records.map((record) => record.key?.toString())).size).toBe(40);
    const checkpoint = await relay.store.read(replayStream.id);
    expect(checkpoint?.replays.map((replay) => [replay.from, replay.by])).toEqual([[beforeInserts, 'bob']]);
    expect(checkpoint?.gaps).toEqual([]);
  });

  it('works from the control table alone where CDC_STREAMS is not set, as for an operator of a deployed stage', async () => {
    // Prepare: what an operator has for a deployed stage without the stream settings at hand.
    const bare: NodeJS.ProcessEnv = { ...env, CDC_STREAMS: undefined };
    const output = { out: '', err: '' };
    const run = (...argv: string[]) =>
      runCli(argv, bare, { out: (text) => (output.out += `${text}\n`), err: (text) => (output.err += `${text}\n`) });

    // Act
    const status = await run('status', '--json');
    const statuses = JSON.parse(output.out) as Array<{ streamId: string; watches: string; state: string }>;
    output.out = '';
    const reset = await run('reset', '--stream', stream.id, '--to', 'now');
    const replay = await run('replay', '--stream', stream.id, '--from', new Date(Date.now() - 60_000).toISOString());

    // Assess: every stream with a checkpoint, read from the table (the idle one never ran, so it has none).
    expect(status).toBe(0);
    expect(statuses.map((entry) => entry.streamId)).toContain(stream.id);
    expect(statuses.map((entry) => entry.streamId)).not.toContain(idle.id);
    expect(statuses.find((entry) => entry.streamId === stream.id)).toMatchObject({ watches: 'not in CDC_STREAMS', state: 'idle' });
    expect(reset).toBe(2);
    expect(output.err).toMatch(/neither stalled nor stopped/);
    expect(replay).toBe(2);
    expect(output.err).toMatch(/set CDC_STREAMS \(or pass --no-oplog-check\)/);
  });
});

describe('ops CLI dead letters against the local Kafka', () => {
  const relay = new RelayHarness();
  const deadLetterTopic = uniqueName('ops-dlq');
  const sourceTopic = uniqueName('mongo-cdc.ops.source');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: endpoints.kafkaBrokers().join(','),
    SINK_DEAD_LETTER_TOPIC: deadLetterTopic,
  };
  const cli = async (...argv: string[]): Promise<CliResult> => {
    const result = { code: 0, out: '', err: '' };
    result.code = await runCli(argv, env, { out: (text) => (result.out += `${text}\n`), err: (text) => (result.err += `${text}\n`) });
    return result;
  };

  function sourceRecord(offset: number, value: Buffer | null, key = `{"_id":${offset}}`): SourceRecord {
    return { topic: sourceTopic, partition: 0, offset, key: Buffer.from(key), value, headers: { 'cdc-op': 'insert' } };
  }

  beforeAll(async () => {
    await createServedTopics(relay.kafka, [deadLetterTopic, sourceTopic]);
    const producer = relay.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const encoded = encodeChangeEvent(
      {
        _id: { _data: 'token' },
        operationType: 'insert',
        clusterTime: new (await import('mongodb')).Timestamp({ t: 1_800_000_000, i: 1 }),
        documentKey: { _id: 7 },
        fullDocument: { _id: 7, name: 'too big for the index once' },
        ns: { db: 'ops', coll: 'source' },
      } as never,
      { ordinal: 0 },
    );
    const sink = new KafkaDeadLetterSink(producer, deadLetterTopic, 'opensearch');
    await sink.send([
      { record: { ...sourceRecord(11, encoded.value), key: encoded.key, headers: encoded.headers }, code: 'STORE_REJECTED', reason: 'mapper_parsing_exception: field [name] of type [long]' },
      { record: sourceRecord(12, Buffer.from('{not json')), code: 'RECORD_MALFORMED', reason: 'value is not Extended JSON' },
    ]);
    // What the relay writes for an oversize event: metadata only, no source topic.
    await producer.send({
      topic: deadLetterTopic,
      messages: [{ key: '{"_id":9}', value: '{"reason":"too large"}', headers: { 'cdc-dlq-code': 'RECORD_TOO_LARGE', 'cdc-dlq-reason': 'event of 2000000 bytes exceeds the limit', 'cdc-dlq-source': 'orders' } }],
    });
    await producer.disconnect();
  });
  afterAll(async () => {
    const admin = relay.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [deadLetterTopic, sourceTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('lists dead letters with code, reason, origin and source position, and says when a topic does not exist', async () => {
    const listed = await cli('dlq', 'list', '--topic', deadLetterTopic, '--json');
    const missing = await cli('dlq', 'list', '--topic', uniqueName('never-written'));

    expect(listed.code).toBe(0);
    const [listing] = JSON.parse(listed.out) as Array<{ retained: number; entries: Array<Record<string, unknown>> }>;
    expect(listing?.retained).toBe(3);
    expect(listing?.entries.map((entry) => [entry.code, entry.from, entry.source])).toEqual([
      ['STORE_REJECTED', 'sink opensearch', { topic: sourceTopic, partition: 0, offset: 11 }],
      ['RECORD_MALFORMED', 'sink opensearch', { topic: sourceTopic, partition: 0, offset: 12 }],
      ['RECORD_TOO_LARGE', 'relay stream orders', undefined],
    ]);
    expect(listing?.entries[0]?.reason).toBe('mapper_parsing_exception: field [name] of type [long]');
    expect(missing.code).toBe(0);
    expect(missing.out).toMatch(/no such topic/);
  });

  it('re-drives refused records byte for byte, once; skips what cannot be re-driven and says why', async () => {
    // Act
    const dryRun = await cli('dlq', 'replay', '--topic', deadLetterTopic, '--dry-run', '--json');
    const afterDryRun = await readAllRecords(relay.kafka, [sourceTopic]);
    const first = await cli('dlq', 'replay', '--topic', deadLetterTopic, '--json');
    const second = await cli('dlq', 'replay', '--topic', deadLetterTopic, '--json');
    const malformedToo = await cli('dlq', 'replay', '--topic', deadLetterTopic, '--from-start', '--include-malformed', '--json');
    const redriven = await readAllRecords(relay.kafka, [sourceTopic]);
    const deadLetters = await readAllRecords(relay.kafka, [deadLetterTopic]);

    // Assess
    expect(JSON.parse(dryRun.out)).toEqual([
      expect.objectContaining({ redriven: 1, dryRun: true, skipped: [expect.objectContaining({ offset: '1' }), expect.objectContaining({ offset: '2' })] }),
    ]);
    expect(afterDryRun).toHaveLength(0);
    expect(JSON.parse(first.out)[0]).toMatchObject({ redriven: 1, dryRun: false });
    expect(JSON.parse(second.out)[0]).toMatchObject({ redriven: 0, skipped: [] });
    expect(JSON.parse(malformedToo.out)[0]).toMatchObject({ redriven: 2, skipped: [expect.objectContaining({ offset: '2' })] });
    expect(redriven).toHaveLength(3);
    const original = deadLetters[0];
    expect(redriven[0]?.key).toEqual(original?.key);
    expect(redriven[0]?.value).toEqual(original?.value);
    expect(Object.keys(redriven[0]?.headers ?? {}).filter((name) => name.startsWith('cdc-dlq'))).toEqual([]);
    expect(redriven[0]?.headers['cdc-redriven-from']).toBe(`${deadLetterTopic}/0/0`);
    expect(redriven[0]?.headers['cdc-format']).toBe(original?.headers['cdc-format']);
    expect(redriven[2]?.value?.toString()).toBe('{not json');
  });

  it('works through the installed bin as an operator types it', async () => {
    const run = promisify(execFile);
    const bin = resolve(__dirname, 'mongo-cdc.cjs');
    const binEnv = { ...env, CDC_STREAMS: undefined };
    const { stdout } = await run(process.execPath, [bin, 'dlq', 'list', '--topic', deadLetterTopic, '--limit', '1'], { env: binEnv });
    expect(stdout).toContain(`${deadLetterTopic}: 3 retained, newest 1 shown`);
    expect(stdout).toContain('RECORD_TOO_LARGE from relay stream orders');
    const failed = await run(process.execPath, [bin, 'reset', '--stream', 'x', '--to', 'now'], { env: binEnv }).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    // No CONTROL_TABLE: the local pipeline's defaults, whose streams are the demo's.
    expect((failed as { stderr: string }).stderr).toMatch(/unknown stream "x"; CDC_STREAMS configures: shop-customers, shop-orders/);
    const stagedEnv: NodeJS.ProcessEnv = { ...binEnv, CONTROL_TABLE: 'mongo-cdc-prod-control', AWS_CONFIG_FILE: '/nonexistent' };
    for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'DYNAMODB_ENDPOINT']) delete stagedEnv[name];
    const staged = await run(process.execPath, [bin, 'status'], { env: stagedEnv }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(staged).toMatchObject({ code: 2 });
    expect((staged as { stderr: string }).stderr).toMatch(/AWS_REGION is not set: CONTROL_TABLE=mongo-cdc-prod-control is set, so mongo-cdc uses a deployed stage/);
  });
});
