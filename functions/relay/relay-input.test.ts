import { describe, expect, it } from 'vitest';
import { RecordingLogger } from '../../test/support/recording-logger';
import type { Checkpoint, OperatorActions } from './checkpoint-store';
import { resetStream } from './relay-input';

/** The operator side of the control table in memory: the reset rules alone, the store has its integration tests. */
function storeWith(checkpoint: Checkpoint | undefined) {
  const resets: unknown[] = [];
  const store: OperatorActions = {
    read: async () => checkpoint,
    reset: async (_streamId, to) => void resets.push(to),
    replay: async () => undefined,
    streamIds: async () => [],
  };
  return { store, resets };
}

const lastEventSeconds = Math.floor(Date.parse('2026-11-20T10:00:00Z') / 1000);
const stalled: Checkpoint = {
  streamId: 'orders',
  resume: { kind: 'resumeAfter', token: { _data: 't' } },
  lastEvent: { seconds: lastEventSeconds, increment: 1, ordinal: 0 },
  eventsRelayed: 5,
  stalled: { code: 'CHANGE_STREAM_HISTORY_LOST', reason: 'gone', at: '2026-11-20T11:00:00Z' },
  gaps: [],
  replays: [],
};

describe('the relay\'s reset input', () => {
  it('resets a stalled stream to a time after its last event', async () => {
    const { store, resets } = storeWith(stalled);
    await resetStream(store, 'orders', { action: 'reset', to: '2026-11-21T00:00:00Z', by: 'ops' }, new RecordingLogger());
    expect(resets).toEqual([{ kind: 'startAtOperationTime', seconds: Math.floor(Date.parse('2026-11-21T00:00:00Z') / 1000), increment: 0 }]);
  });

  it.each([
    [{ ...stalled, stalled: undefined }, { to: 'now' }, /neither stalled nor stopped.*force/],
    [stalled, { to: '2999-01-01T00:00:00Z' }, /in the future/],
    [stalled, { to: '2026-11-19T00:00:00Z' }, /before the last relayed event/],
    [stalled, { to: '21 Nov 2026' }, /ISO 8601 time with a zone/],
    [stalled, { to: '2026-11-21' }, /ISO 8601 time with a zone/],
    [undefined, { to: 'now' }, /no checkpoint/],
  ])('applies the ops CLI\'s guards (%#)', async (checkpoint, input, message) => {
    const { store, resets } = storeWith(checkpoint as Checkpoint | undefined);
    await expect(resetStream(store, 'orders', { action: 'reset', ...input }, new RecordingLogger())).rejects.toThrow(message);
    expect(resets).toEqual([]);
  });

  it('resets a healthy stream only when forced', async () => {
    const { store, resets } = storeWith({ ...stalled, stalled: undefined });
    await resetStream(store, 'orders', { action: 'reset', to: 'now', force: true }, new RecordingLogger());
    expect(resets).toEqual([{ kind: 'now' }]);
  });
});
