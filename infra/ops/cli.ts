import { parseArgs } from 'node:util';
import { CdcError } from '../../shared/errors';
import { listDeadLetters, renderDeadLetters, renderReplay, replayDeadLetters } from './dead-letter-commands';
import { targetsLocalPipeline, withLocalDefaults } from '../local/local-defaults';
import { OpsContext } from './ops-context';
import { explainEnvironment, UsageError } from './ops-errors';
import { createTopics, renderTopics } from './topic-commands';
import { requestSnapshot } from './snapshot-commands';
import { renderStatus, replayStream, resetStream, streamStatus } from './stream-commands';

export const USAGE = `usage: mongo-cdc <command> [options]

  status [--stream S] [--json]
      Per stream: resume token, cluster time of the last relayed event, checkpoint age, lease holder, stalled or
      stopped reason, recorded gaps and replays. Exits 1 when a stream is stalled.
  reset --stream S --to now|<ISO time> [--by WHO] [--force] [--json]
      Restarts a stalled or stopped stream from now or a time; the skipped span is recorded as a gap.
      A healthy stream needs --force.
  replay --stream S --from <ISO time> [--by WHO] [--no-oplog-check] [--json]
      Moves a stream back so its next run re-relays from that time (MongoDB's oplog must still hold it).
  snapshot STREAM [--namespace DB.COLL] [--by WHO] [--json]
      Asks the stream's relay to copy the documents that exist now (all it watches, or one collection), between its
      live batches, at its next run. Refused while another snapshot is asked for or running; status shows progress.
  dlq list [--topic T] [--limit N] [--json]
      The newest dead letters (default 20 per partition) of the relay's and the sinks' dead-letter topics.
  dlq replay [--topic T] [--dry-run] [--include-malformed] [--from-start] [--json]
      Sends sink dead letters back to their source topics, byte for byte; progress is kept in consumer group
      mongo-cdc-dlq-replay, so each runs re-drives only what is new.
  topics create [--json]
      Creates the topics the configured streams write (and the dead-letter topics) with KAFKA_TOPIC_PARTITIONS,
      KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_TOPIC_MIN_INSYNC_REPLICAS: run it before the first deploy on a
      cluster that does not auto-create topics (Amazon MSK).

Where it connects: with CONTROL_TABLE unset, to the local pipeline (\`npm start\`), with the same defaults; with
CONTROL_TABLE set, to what the variables the functions read say (a deployed stage): CDC_STREAMS, CONTROL_TABLE,
AWS_REGION and credentials, KAFKA_BROKERS, KAFKA_AUTH (and its credentials), SINK_DEAD_LETTER_TOPIC, MONGODB_URI or
MONGODB_URI_SECRET (replay). Exit codes: 0 done, 1 failed or stalled, 2 bad command line or configuration.`;

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const OPTIONS = {
  stream: { type: 'string' },
  namespace: { type: 'string' },
  to: { type: 'string' },
  from: { type: 'string' },
  by: { type: 'string' },
  force: { type: 'boolean', default: false },
  'no-oplog-check': { type: 'boolean', default: false },
  topic: { type: 'string' },
  limit: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'include-malformed': { type: 'boolean', default: false },
  'from-start': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function required(name: string, value: string | undefined): string {
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** Runs one command line; returns the exit code. The output sink is injectable so tests run it in-process. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, output: CliOutput): Promise<number> {
  const local = targetsLocalPipeline(env);
  const context = new OpsContext(local ? withLocalDefaults(env).env : env);
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    const print = (value: unknown, text: string) => output.out(values.json ? JSON.stringify(value, null, 2) : text);
    const [command, subcommand, ...extra] = positionals;
    if (values.help || command === undefined || command === 'help') {
      output.out(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    const hasSubcommands = command === 'dlq' || command === 'topics' || command === 'snapshot';
    if (extra.length > 0 || (subcommand !== undefined && !hasSubcommands)) {
      throw new UsageError(`unexpected argument "${hasSubcommands ? extra[0] : subcommand}"`);
    }
    switch (command) {
      case 'status': {
        const statuses = await streamStatus(context, values.stream);
        print(statuses, renderStatus(statuses));
        return statuses.some((status) => status.state === 'stalled') ? 1 : 0;
      }
      case 'reset': {
        const status = await resetStream(context, {
          streamId: required('stream', values.stream),
          to: required('to', values.to),
          by: values.by,
          force: values.force,
        });
        print(status, `reset recorded; the stream restarts at its next run\n\n${renderStatus([status])}`);
        return 0;
      }
      case 'replay': {
        const status = await replayStream(context, {
          streamId: required('stream', values.stream),
          from: required('from', values.from),
          by: values.by,
          skipOplogCheck: values['no-oplog-check'],
        });
        print(status, `replay recorded; the stream re-relays from ${values.from} at its next run\n\n${renderStatus([status])}`);
        return 0;
      }
      case 'snapshot': {
        const streamId = subcommand ?? values.stream;
        if (!streamId) throw new UsageError('snapshot needs the stream: mongo-cdc snapshot STREAM [--namespace DB.COLL]');
        const status = await requestSnapshot(context, { streamId, namespace: values.namespace, by: values.by });
        const asked = status.requested;
        print(status, `snapshot ${asked?.id ?? ''} asked for by ${asked?.by ?? ''}${asked?.namespace ? ` (${asked.namespace})` : ''}; the relay starts it at its next run`);
        return 0;
      }
      case 'dlq': {
        if (subcommand === 'list') {
          const limit = Number(values.limit ?? '20');
          if (!Number.isInteger(limit) || limit <= 0) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}`);
          const listings = await listDeadLetters(context, values.topic, limit);
          print(listings, renderDeadLetters(listings, limit));
          return 0;
        }
        if (subcommand === 'replay') {
          const outcomes = await replayDeadLetters(context, {
            topic: values.topic,
            dryRun: values['dry-run'],
            includeMalformed: values['include-malformed'],
            fromStart: values['from-start'],
          });
          print(outcomes, renderReplay(outcomes));
          return 0;
        }
        throw new UsageError(`dlq needs "list" or "replay"${subcommand ? `, not "${subcommand}"` : ''}`);
      }
      case 'topics': {
        if (subcommand !== 'create') throw new UsageError(`topics needs "create"${subcommand ? `, not "${subcommand}"` : ''}`);
        const outcome = await createTopics(context);
        print(outcome, renderTopics(outcome));
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (caught) {
    const error = explainEnvironment(caught, local, env);
    if (error instanceof CdcError && (error.code === 'OPERATOR_REQUEST_INVALID' || error.code === 'CONFIG_INVALID')) {
      output.err(`mongo-cdc: ${error.message}\n(mongo-cdc --help lists the commands)`);
      return 2;
    }
    // parseArgs reports unknown flags with this code; they are command line mistakes too.
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      output.err(`mongo-cdc: ${(error as Error).message}\n(mongo-cdc --help lists the commands)`);
      return 2;
    }
    output.err(`mongo-cdc: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await context.close();
  }
}

