import { CdcError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { OperatorActions } from './checkpoint-store';
import { planReset } from './operator-requests';
import type { RelayEnv, StreamConfig } from './relay-config';

/**
 * What a trigger may pass. The schedule passes { streamId }. An operator restarts a stalled or stopped stream with
 * { action: "reset", streamId, to: "now" | "<ISO time>", by: "<who>", force?: true }, under the ops CLI's rules
 * (operator-requests.ts); the gap is recorded in the checkpoint.
 */
export interface RelayInput {
  readonly streamId?: string;
  readonly action?: 'relay' | 'reset';
  readonly to?: string;
  readonly by?: string;
  /** Reset a stream that is neither stalled nor stopped (the gap is data its sinks will never see). */
  readonly force?: boolean;
}

export function streamFor(env: RelayEnv, input: RelayInput | undefined): StreamConfig {
  const wanted = input?.streamId ?? env.CDC_STREAM_ID ?? (env.CDC_STREAMS.length === 1 ? env.CDC_STREAMS[0]?.id : undefined);
  if (wanted === undefined) {
    throw new CdcError('CONFIG_INVALID', 'several streams are configured: the input or CDC_STREAM_ID must name one');
  }
  const stream = env.CDC_STREAMS.find((candidate) => candidate.id === wanted);
  if (!stream) {
    const known = env.CDC_STREAMS.map((candidate) => candidate.id).join(', ');
    throw new CdcError('CONFIG_INVALID', `unknown stream "${wanted}"; configured streams: ${known}`);
  }
  return stream;
}

export async function resetStream(
  store: OperatorActions,
  streamId: string,
  input: RelayInput,
  logger: Logger,
  now = new Date(),
): Promise<void> {
  const target = planReset(await store.read(streamId), { streamId, to: input.to ?? 'now', force: input.force }, now);
  const by = input.by ?? 'unknown operator';
  await store.reset(streamId, target, by, now);
  logger.warn({ event: 'relay.reset', streamId, to: input.to ?? 'now', by, forced: input.force === true });
}
