import { z } from 'zod';
import { jsonVariable, parseEnv } from '../../shared/env-config';
import { CdcError } from '../../shared/errors';
import { secretVariableConfigured } from '../../shared/secret-env';
import { topicNamingShape } from '../../shared/topic-naming-schema';

export const READ_THREAD_MODES = ['auto', 'on', 'off'] as const;
export type ReadThreadMode = (typeof READ_THREAD_MODES)[number];

const namespacePattern = /^[^.$\s]+(\.[^$\s]+)?$/;

/** One change stream relayed to Kafka. Unknown keys are rejected, so a typo fails at start-up instead of being ignored. */
export const streamSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"'),
    /** Name of the environment variable holding the connection string (in AWS, resolved from SSM/Secrets Manager). */
    uriVariable: z.string().default('MONGODB_URI'),
    /** What to watch: a collection (database + collection), a database, or the whole deployment (neither). */
    database: z.string().min(1).optional(),
    collection: z.string().min(1).optional(),
    includeNamespaces: z.array(z.string().regex(namespacePattern, 'must be "db" or "db.collection"')).optional(),
    excludeNamespaces: z.array(z.string().regex(namespacePattern, 'must be "db" or "db.collection"')).optional(),
    /** Extra stages ($match/$project/...) appended to the change stream pipeline, as Extended JSON. */
    pipeline: z.array(z.record(z.string(), z.unknown())).default([]),
    fullDocument: z.enum(['default', 'updateLookup', 'whenAvailable', 'required']).default('updateLookup'),
    fullDocumentBeforeChange: z.enum(['off', 'whenAvailable', 'required']).default('off'),
    /** topicPrefix, topics (per-namespace overrides), deadLetterTopic: see shared/topic-naming.ts. */
    ...topicNamingShape,
    tombstones: z.boolean().default(false),
    batch: z
      .object({
        maxEvents: z.number().int().positive().default(1000),
        maxBytes: z.number().int().positive().default(4 * 1024 * 1024),
        maxWaitMs: z.number().int().nonnegative().default(200),
      })
      .strict()
      .prefault({}),
    /** What to do with an event bigger than the producer may send: dead-letter its metadata, or trim its documents. */
    oversize: z.enum(['dlq', 'trim']).default('dlq'),
    onInvalidate: z.enum(['stop', 'continue']).default('stop'),
    /** Where a stream with no checkpoint starts: now, or an ISO time still inside the oplog window. */
    startAt: z.union([z.literal('now'), z.iso.datetime({ offset: true })]).default('now'),
    /** A stream with no checkpoint first copies the documents that already exist (initial), or starts from now only. */
    snapshot: z.enum(['initial', 'never']).default('initial'),
    /** Documents per snapshot chunk: one chunk runs between two live batches, so this bounds the live stream's wait. */
    snapshotChunkDocuments: z.number().int().positive().max(100_000).default(1000),
    /** The part of an invocation's time a running snapshot is owed while the live stream is busy (see snapshot-share.ts). */
    snapshotShare: z.number().gt(0).lt(1).default(0.5),
    /** The longest a snapshot's turn between two live batches may last (one chunk always runs, even a slower one). */
    snapshotMaxPauseMs: z.number().int().nonnegative().max(60_000).default(500),
  })
  .strict()
  .refine((stream) => !(stream.collection && !stream.database), {
    message: 'collection needs database',
    path: ['collection'],
  });

export type StreamConfig = z.infer<typeof streamSchema>;

export const relayEnvShape = {
  CDC_STREAMS: jsonVariable(
    z
      .array(streamSchema)
      .min(1, 'must list at least one stream')
      .refine((streams) => new Set(streams.map((stream) => stream.id)).size === streams.length, 'stream ids must be unique'),
  ),
  /** The stream this function relays when its trigger does not name one (one function per stream in AWS). */
  CDC_STREAM_ID: z.string().optional(),
  CONTROL_TABLE: z.string().min(1),
  /** Lambda time kept back at the end of an invocation for the last checkpoint and clean shutdown. */
  RELAY_SAFETY_MARGIN_MS: z.coerce.number().int().nonnegative().default(5_000),
  /** The largest record the producer may send; MSK's default message.max.bytes. */
  KAFKA_MAX_MESSAGE_BYTES: z.coerce.number().int().positive().default(1_048_588),
  /** Quiet streams save the server's post-batch resume token at least this often. */
  RELAY_IDLE_CHECKPOINT_MS: z.coerce.number().int().positive().default(30_000),

  /**
   * Whether change-stream reading and record encoding run on a worker thread beside the relay's (read-thread.ts):
   * auto (the default) where more than one CPU is available (Lambda from about 1,769 MB), on, or off.
   */
  RELAY_READ_THREAD: z.enum(READ_THREAD_MODES).default('auto'),

  /** The lease outlives the invocation by this much, so a crashed holder is replaced soon after its deadline. */
  RELAY_LEASE_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
  /**
   * Where a snapshot reads and encodes its chunks: on a worker thread of its own (`on`), on the thread that produces
   * them (`off`), or on a thread where the function has more than one vCPU (`auto`; Lambda gives two from 1,769 MB).
   */
  SNAPSHOT_READ_THREAD: z.enum(['auto', 'on', 'off']).default('auto'),
};

export type RelayEnv = ReturnType<typeof parseRelayEnv>;

export function parseRelayEnv(env: NodeJS.ProcessEnv = process.env) {
  const parsed = parseEnv(relayEnvShape, env);
  for (const stream of parsed.CDC_STREAMS) {
    if (!secretVariableConfigured(stream.uriVariable, env)) {
      throw new CdcError(
        'CONFIG_INVALID',
        `stream "${stream.id}" reads its connection string from ${stream.uriVariable}, but neither ${stream.uriVariable} nor ${stream.uriVariable}_SECRET is set`,
      );
    }
  }
  return parsed;
}
