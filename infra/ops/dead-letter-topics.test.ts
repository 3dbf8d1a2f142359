import { describe, expect, it } from 'vitest';
import { deadLetterTopics } from './dead-letter-commands';
import { OpsContext } from './ops-context';

describe('the dead-letter topics dlq commands read', () => {
  it("include each configured stream's relay dead-letter topic and the sinks' one", () => {
    const context = new OpsContext({
      CDC_STREAMS: JSON.stringify([{ id: 'orders', database: 'shop', collection: 'orders', topicPrefix: 'acme' }, { id: 'all', deadLetterTopic: 'relay-dlq' }]),
      SINK_DEAD_LETTER_TOPIC: 'acme.sink-dead-letter',
    });
    expect(deadLetterTopics(context, undefined)).toEqual(['acme.dead-letter', 'relay-dlq', 'acme.sink-dead-letter']);
  });

  it("include the relay's one next to the sinks' one where CDC_STREAMS is not set (a deployed stage's operator)", () => {
    expect(deadLetterTopics(new OpsContext({}), undefined)).toEqual(['mongo-cdc.dead-letter', 'mongo-cdc.sink-dead-letter']);
    expect(deadLetterTopics(new OpsContext({ SINK_DEAD_LETTER_TOPIC: 'prod.sink-dead-letter' }), undefined)).toEqual(['prod.dead-letter', 'prod.sink-dead-letter']);
  });

  it('are only the one named with --topic', () => {
    expect(deadLetterTopics(new OpsContext({}), 'mine')).toEqual(['mine']);
  });
});
