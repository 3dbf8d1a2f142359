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
    status.relayEnded({ streamId: 'orders', startedAt: 0, durationMs: 5, outcome: { status: 'relayed', events: 1, batches: 1, deadLettered: 0, trimmed: 0, checkpoints: 1, snapshotted: 0 } });
    expect(status.render('header')).toMatch(/orders .* waiting for schedule/);
  });
});

describe('the status view of the sinks', () => {
  it('shows a sink as joining its consumer group until its consumer joined', () => {
    // Prepare
    const status = new PipelineStatus(['orders'], ['dynamodb', 'opensearch']);

    // Act
    const starting = status.render('header');
    status.consumerEvent({ sink: 'dynamodb', kind: 'joined', detail: 'group g, 2 topic(s) assigned' });
    const oneJoined = status.render('header');

    // Assess
    expect(starting).toMatch(/dynamodb .* joining its consumer group/);
    expect(starting).toMatch(/opensearch .* joining its consumer group/);
    expect(oneJoined).not.toMatch(/dynamodb .* joining/);
    expect(oneJoined).toMatch(/opensearch .* joining its consumer group/);
    expect(status.sinks.get('dynamodb')).toMatchObject({ crashes: 0, restarts: 0, onFailure: 0 });
  });
});

describe('status view snapshot progress', () => {
  it('shows a running snapshot with namespace, copied of estimated, rate and ETA, and holds off "drained" until it ends', () => {
    // Prepare
    const status = new PipelineStatus(['orders'], []);
    const now = Date.parse('2026-11-30T00:01:40Z');
    const view = status.streams.get('orders');
    if (view) Object.assign(view, { running: true, runningSince: 0, changedAt: 0 });

    // Act
    status.applySnapshot(
      'orders',
      {
        running: {
          id: 'snap-1',
          by: 'initial snapshot',
          requestedAt: '2026-11-30T00:00:00Z',
          startedAt: '2026-11-30T00:00:00Z',
          namespaces: ['shop.orders'],
          current: 0,
          cursor: { bracket: 6 },
          copied: 5_000,
          estimated: 20_000,
        },
        runs: [],
      },
      now,
    );
    const copying = status.render('header');
    const drainedWhileCopying = status.drained(1_000, now);
    status.applySnapshot('orders', { runs: [{ id: 'snap-1', by: 'initial snapshot', requestedAt: '', startedAt: '', finishedAt: '2026-11-30T00:06:40Z', documents: 20_000 }] }, now);

    // Assess
    expect(copying).toContain('snapshot of orders: shop.orders: 5000 of ~20000 copied, 50/s, ETA 5.0 min');
    expect(drainedWhileCopying).toBe(false);
    expect(status.render('header')).toContain('snapshot of orders: done: 20000 documents copied, finished 2026-11-30T00:06:40Z');
    expect(status.drained(1_000, now)).toBe(true);
  });
});

describe('status view progress (what --duration waits on)', () => {
  it('moves with relayed events and consumed records, not with failed invocations', () => {
    // Prepare
    const status = new PipelineStatus(['orders'], ['dynamodb']);
    const before = status.progress();

    // Act and assess: a failed batch is no progress; a consumed one is, and so is a relayed event.
    status.sinkInvoked({ sink: 'dynamodb', records: 10, durationMs: 5, error: 'DynamoDB did not answer' });
    expect(status.progress()).toBe(before);
    status.sinkInvoked({
      sink: 'dynamodb',
      records: 10,
      durationMs: 5,
      summary: { records: 10, changes: 10, applied: 10, stale: 0, deadLettered: 0, skipped: { tombstones: 0, controlEvents: 0, withoutDocument: 0, superseded: 0 } },
    });
    const consumed = status.progress();
    expect(consumed).not.toBe(before);
    status.applyCheckpoint('orders', { eventsRelayed: 5 } as Parameters<PipelineStatus['applyCheckpoint']>[1], 0);
    expect(status.progress()).not.toBe(consumed);
  });
});
