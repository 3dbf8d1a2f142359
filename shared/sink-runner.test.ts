import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { DeadLetterSink } from './dead-letter';
import { LazyProducer } from './lazy-producer';
import type { RejectedRecord } from './sink-batch';
import { lazyDeadLetters } from './sink-runner';

/** Counts what a sink's dead-letter path asks of Kafka; no broker involved, the Kafka adapter has integration tests. */
function countingProducer() {
  const counts = { created: 0, connected: 0, disconnected: 0 };
  const lazy = new LazyProducer(() => {
    counts.created++;
    return {
      connect: async () => void counts.connected++,
      disconnect: async () => void counts.disconnected++,
    } as unknown as Producer;
  });
  return { lazy, counts };
}

const rejected = [{ code: 'RECORD_MALFORMED', reason: 'value is not JSON' }] as unknown as RejectedRecord[];

describe('the sinks\' dead-letter path', () => {
  it('does not connect to Kafka for a batch with nothing to dead-letter', async () => {
    const { lazy, counts } = countingProducer();
    const sent: unknown[] = [];
    const deadLetters = lazyDeadLetters(lazy, () => ({ send: async (records) => void sent.push(...records) }));

    await deadLetters.send([]);

    expect(counts).toEqual({ created: 0, connected: 0, disconnected: 0 });
    await deadLetters.send(rejected);
    expect(counts.connected).toBe(1);
    expect(sent).toEqual(rejected);
  });

  it('drops a connection whose send failed, and reconnects for the next dead letter', async () => {
    const { lazy, counts } = countingProducer();
    let fail = true;
    const sink: DeadLetterSink = {
      send: async () => {
        if (fail) throw new Error('broker gone');
      },
    };
    const deadLetters = lazyDeadLetters(lazy, () => sink);

    await expect(deadLetters.send(rejected)).rejects.toThrow('broker gone');
    fail = false;
    await deadLetters.send(rejected);

    expect(counts).toEqual({ created: 2, connected: 2, disconnected: 1 });
  });
});
