import { describe, expect, it } from 'vitest';
import { localRequestId } from './local-lease-owner';
import { PipelineStatus } from './pipeline-status';

describe('the status view', () => {
  it('says when another pipeline holds a stream, and which process, instead of waiting silently', () => {
    const status = new PipelineStatus(['orders', 'customers'], ['dynamodb']);
    status.relayEnded({ streamId: 'orders', startedAt: 0, durationMs: 5, outcome: { status: 'lease-held', holder: localRequestId(4711, 'laptop') } });
    status.relayEnded({ streamId: 'customers', startedAt: 0, durationMs: 5, outcome: { status: 'lease-held', holder: '0b6f3c2e-5d1a-4f7e-8a9b-1c2d3e4f5a6b' } });

    const screen = status.render('header');

    expect(screen).toMatch(/orders .* not relaying: another pipeline holds this stream \(local run pid 4711 on laptop\)/);
    expect(screen).toMatch(/customers .* not relaying: another pipeline holds this stream \(invocation 0b6f3c2e-/);
  });

  it('forgets the holder once an invocation relays again', () => {
    const status = new PipelineStatus(['orders'], []);
    status.relayEnded({ streamId: 'orders', startedAt: 0, durationMs: 5, outcome: { status: 'lease-held', holder: 'someone' } });
    status.relayEnded({ streamId: 'orders', startedAt: 0, durationMs: 5, outcome: { status: 'relayed', events: 1, batches: 1, deadLettered: 0, trimmed: 0, checkpoints: 1 } });
    expect(status.render('header')).toMatch(/orders .* waiting for schedule/);
  });
});
