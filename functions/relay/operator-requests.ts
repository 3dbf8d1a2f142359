import { CdcError } from '../../shared/errors';
import type { ResumePoint } from '../../shared/stream-position';
import type { Checkpoint } from './checkpoint-store';

/*
 * The rules an operator's reset or replay must pass, in one place: the ops CLI and the relay's `reset` input both call
 * these before touching the control table. A refused request throws OPERATOR_REQUEST_INVALID naming what is wrong.
 */

const refuse = (message: string): never => {
  throw new CdcError('OPERATOR_REQUEST_INVALID', message);
};

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 time with a zone ("2026-11-24T18:00:00Z"), not in the future; anything looser is refused, not guessed. */
export function parseOperatorTime(name: string, text: string | undefined, now: Date): Date {
  if (text === undefined || text === '') return refuse(`${name} is required`);
  const millis = ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(millis)) {
    return refuse(`${name} must be an ISO 8601 time with a zone, such as 2026-11-24T18:00:00Z; got ${JSON.stringify(text)}`);
  }
  if (millis > now.getTime()) return refuse(`${name} ${text} is in the future`);
  return new Date(millis);
}

/** How the caller names things in its messages: the ops CLI speaks of flags, the relay input of fields. */
export interface RequestWording {
  readonly to: string;
  readonly from: string;
  readonly force: string;
  readonly replay: string;
  readonly reset: string;
}

export const INPUT_WORDING: RequestWording = {
  to: '"to"',
  from: '"from"',
  force: 'Set "force": true',
  replay: 'replay',
  reset: 'reset',
};

export interface ResetRequest {
  readonly streamId: string;
  /** "now" or an ISO time with a zone. */
  readonly to: string | undefined;
  /** A healthy stream is reset only when forced: the gap is data its sinks will never see. */
  readonly force?: boolean | undefined;
}

export type ResetTarget = ResumePoint & { kind: 'now' | 'startAtOperationTime' };

/**
 * Where a reset restarts the stream, once every rule holds: the stream has a checkpoint, is stalled or stopped (or the
 * reset is forced), and the time is "now" or a past time no earlier than the last relayed event (a gap whose start
 * is after its end would be a replay in disguise).
 */
export function planReset(checkpoint: Checkpoint | undefined, request: ResetRequest, now: Date, wording = INPUT_WORDING): ResetTarget {
  const toNow = request.to === 'now';
  const to = toNow ? now : parseOperatorTime(wording.to, request.to, now);
  if (!checkpoint) return refuse(`stream "${request.streamId}" has no checkpoint yet: it has never run, so there is nothing to reset`);
  if (!checkpoint.stalled && !checkpoint.stopped && !request.force) {
    return refuse(
      `stream "${request.streamId}" is neither stalled nor stopped; a reset skips every change between its checkpoint and ${toNow ? 'now' : to.toISOString()}. ` +
        `${wording.force} to do it anyway, or ${wording.replay} to go back in time.`,
    );
  }
  if (checkpoint.lastEvent && to.getTime() < checkpoint.lastEvent.seconds * 1000) {
    return refuse(
      `${wording.to} ${to.toISOString()} is before the last relayed event (${new Date(checkpoint.lastEvent.seconds * 1000).toISOString()}); ${wording.replay} to go back`,
    );
  }
  return toNow ? { kind: 'now' } : { kind: 'startAtOperationTime', seconds: Math.floor(to.getTime() / 1000), increment: 0 };
}

/** A replay goes back: a `from` after the last relayed event would skip changes, which only a reset may do. */
export function checkReplayFrom(checkpoint: Checkpoint | undefined, from: Date, wording = INPUT_WORDING): void {
  if (checkpoint?.lastEvent && from.getTime() > (checkpoint.lastEvent.seconds + 1) * 1000) {
    refuse(
      `${wording.from} ${from.toISOString()} is after the last relayed event (${new Date(checkpoint.lastEvent.seconds * 1000).toISOString()}); ` +
        `a replay from there would skip changes: ${wording.reset} to skip on purpose`,
    );
  }
}
