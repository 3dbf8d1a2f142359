/**
 * Every failure the product names, once: what it means and how to recover. Codes are stable (alarms, metrics, dead
 * letters and runbooks use them); `retriable` says whether repeating the same work later can succeed without a person.
 */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    retriable: false,
    meaning: 'A setting is missing or malformed; the function refuses to start.',
    recovery: 'Fix the setting the message names and redeploy.',
  },
  KAFKA_PRODUCE_FAILED: {
    retriable: true,
    meaning: 'Kafka did not acknowledge a batch; the checkpoint was not moved.',
    recovery: 'None needed: the next invocation resends from the last checkpoint. Check broker health if it persists.',
  },
  LEASE_HELD: {
    retriable: true,
    meaning: 'Another live invocation holds the stream, so this one did nothing. Not a failure for the caller.',
    recovery: 'None: expected when invocations overlap; a later invocation takes the lease once it is free.',
  },
  LEASE_LOST: {
    // Not retriable: a retry loop must never repeat a fenced write; the invocation stops producing at once.
    retriable: false,
    meaning: "The stream's fencing epoch moved on (a conditional checkpoint write was rejected); this invocation stopped producing at once.",
    recovery: 'None: the new holder continues from the last saved checkpoint. Frequent occurrences mean the lease is shorter than a batch.',
  },
  TOPIC_MISSING: {
    retriable: true,
    meaning: 'A topic the relay writes does not exist and topic creation is not allowed (KAFKA_TOPIC_CREATION=require, as on Amazon MSK without CreateTopic); nothing was produced and the checkpoint did not move.',
    recovery: 'Create the topic (`npx mongo-cdc topics create` with the stage\'s variables), or allow creation (allowTopicCreation); the next invocation relays from the checkpoint.',
  },
  CHECKPOINT_CONFLICT: {
    retriable: false,
    meaning: 'The checkpoint item holds a resume point this relay cannot decode (unknown kind, corrupt token or time). The stream is stalled rather than restarted from now, which would skip changes with no gap recorded.',
    recovery: 'Inspect the control table item; reset the stream (the gap is recorded) or replay it from a known time.',
  },
  CHANGE_STREAM_HISTORY_LOST: {
    retriable: false,
    meaning:
      'The resume point is no longer in the oplog (ChangeStreamHistoryLost 286, InvalidResumeToken 260, or ChangeStreamFatalError 280 saying the resume token was not found). The stream is stalled; nothing is skipped silently.',
    recovery: 'Operator: reset the stream to now (the gap is recorded) or re-snapshot; enlarge the oplog window so it does not recur.',
  },
  SNAPSHOT_RUNNING: {
    retriable: true,
    meaning: 'A snapshot was asked for while another one is requested or running on the stream; the request was refused.',
    recovery: 'Wait for the running snapshot to finish (`mongo-cdc status` shows its progress), then ask again if still needed.',
  },
  CHANGE_STREAM_INVALIDATED: {
    retriable: false,
    meaning: 'The watched collection or database was dropped or renamed; the invalidate event was published.',
    recovery: 'Per configuration the stream stopped, or continued with startAfter; reset it to resume a stopped stream.',
  },
  RECORD_MALFORMED: {
    retriable: false,
    meaning: 'A Kafka record or a value in it does not follow the mongo-cdc record format (the message names the field).',
    recovery: 'The record went to the dead-letter topic with the reason; fix the producer, then re-drive it.',
  },
  RECORD_TOO_LARGE: {
    retriable: false,
    meaning: 'An event or item exceeds what the destination accepts.',
    recovery: 'Dead-lettered with its metadata (or trimmed, per policy); raise the limit or re-drive it.',
  },
  STORE_UNAVAILABLE: {
    retriable: true,
    meaning: 'A reporting store did not accept writes; the batch failed so the event source redelivers it.',
    recovery: 'None needed once the store is back; check throttling and capacity if it persists.',
  },
  PERMISSION_DENIED: {
    retriable: false,
    meaning: 'AWS, Kafka or MongoDB refused an operation for lack of permission (the message names the action and resource).',
    recovery: 'Grant the named permission to the role or user running the command (see the deploy guide), then retry.',
  },
  OPERATOR_REQUEST_INVALID: {
    retriable: false,
    meaning: 'An operator request (ops CLI command or the relay reset input) was refused before anything changed: a malformed or future time, a reset of a healthy stream without force, a reset before the last relayed event.',
    recovery: 'Correct the request as the message says; the control table was not touched.',
  },
  MONGO_FATAL: {
    retriable: false,
    meaning: 'MongoDB returned an error the driver cannot resume from (permissions, a bad pipeline, an unsupported option); the error is its cause.',
    recovery: 'Read the cause; check permissions, the pipeline and the deployment. Every invocation fails the same way until it is fixed.',
  },
  MONGO_UNAVAILABLE: {
    retriable: true,
    meaning: 'MongoDB could not be reached or answered with a transient error (network, election, stepdown) the driver did not resume from within this invocation.',
    recovery: 'None needed: the next invocation resumes from the checkpoint. Check the deployment and network if it persists.',
  },
  READ_THREAD_FAILED: {
    retriable: true,
    meaning: "The relay's read thread (RELAY_READ_THREAD) stopped while reading a batch (it crashed or ran out of memory); nothing it read was checkpointed.",
    recovery: 'None needed: the next invocation starts a new read thread and resumes from the checkpoint. If it recurs, check the function\'s memory, or set RELAY_READ_THREAD=off.',
  },
  STORE_REJECTED: {
    retriable: false,
    meaning: 'A reporting store refused one change for good (a mapping conflict, an unmappable document); the rest of the batch was applied.',
    recovery: 'The record went to the sink dead-letter topic with the reason; fix the mapping or the document, then re-drive it.',
  },
} as const satisfies Record<string, { retriable: boolean; meaning: string; recovery: string }>;

export type CdcErrorCode = keyof typeof ERROR_CATALOGUE;

export class CdcError extends Error {
  readonly code: CdcErrorCode;
  readonly retriable: boolean;

  constructor(code: CdcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CdcError';
    this.code = code;
    this.retriable = ERROR_CATALOGUE[code].retriable;
  }
}

export function isCdcError(error: unknown, code?: CdcErrorCode): error is CdcError {
  return error instanceof CdcError && (code === undefined || error.code === code);
}
