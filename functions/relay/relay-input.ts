import { CdcError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import type { OperatorActions } from './checkpoint-store';
import type { RelayEnv, StreamConfig } from './relay-config';

/**
 * What a trigger may pass. The schedule passes { streamId }. An operator restarts a stalled or stopped stream with
 * { action: "reset", streamId, to: "now" | "<ISO time>", by: "<who>" }; the gap is recorded in the checkpoint.
 */
export interface RelayInput {
  readonly streamId?: string;
  readonly action?: 'relay' | 'reset';
  readonly to?: string;
  readonly by?: string;
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

export async function resetStream(store: OperatorActions, streamId: string, input: RelayInput, logger: Logger): Promise<void> {
  const to = input.to ?? 'now';
  let target: { kind: 'now' } | { kind: 'startAtOperationTime'; seconds: number; increment: number };
  if (to === 'now') {
    target = { kind: 'now' };
  } else {
    const millis = Date.parse(to);
    if (Number.isNaN(millis)) {
      throw new CdcError('CONFIG_INVALID', `reset "to" must be "now" or an ISO time, got ${JSON.stringify(to)}`);
    }
    target = { kind: 'startAtOperationTime', seconds: Math.floor(millis / 1000), increment: 0 };
  }
  const by = input.by ?? 'unknown operator';
  await store.reset(streamId, target, by, new Date());
  logger.warn({ event: 'relay.reset', streamId, to, by });
}
