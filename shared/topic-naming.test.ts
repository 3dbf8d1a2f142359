import { describe, expect, it } from 'vitest';
import {
  deadLetterTopicOf,
  namespaceOfTopic,
  prefixNaming,
  sinkTopicNamings,
  type TopicNaming,
  topicForNamespace,
  topicsOfStream,
} from './topic-naming';

const orders: TopicNaming = { topicPrefix: 'acme', topics: { 'shop.orders': 'orders-v1', shop: 'shop-events' } };

describe('topic naming', () => {
  it('names a namespace\'s topic by override, else by prefix', () => {
    expect(topicForNamespace(orders, { db: 'shop', coll: 'orders' })).toBe('orders-v1');
    expect(topicForNamespace(orders, { db: 'shop', coll: 'customers' })).toBe('acme.shop.customers');
    expect(topicForNamespace(orders, { db: 'shop' })).toBe('shop-events');
    expect(topicForNamespace(prefixNaming(), { db: 'crm' })).toBe('mongo-cdc.crm');
    expect(deadLetterTopicOf(orders)).toBe('acme.dead-letter');
    expect(deadLetterTopicOf({ ...orders, deadLetterTopic: 'dlq' })).toBe('dlq');
  });

  it('inverts every topic it names for a collection, overrides and dotted collection names included', () => {
    const namings = [orders, prefixNaming('acme.eu')];
    for (const namespace of [
      { db: 'shop', coll: 'orders' },
      { db: 'shop', coll: 'customers' },
      { db: 'shop', coll: 'orders.archive' },
    ]) {
      expect(namespaceOfTopic(namings, topicForNamespace(orders, namespace))).toEqual(namespace);
    }
    // The longest prefix wins: "acme.eu.shop.x" is shop.x under acme.eu, not eu.shop.x under acme.
    expect(namespaceOfTopic(namings, 'acme.eu.shop.x')).toEqual({ db: 'shop', coll: 'x' });
  });

  it('maps topics that name no collection to nothing', () => {
    expect(namespaceOfTopic([orders], 'shop-events')).toBeUndefined();
    expect(namespaceOfTopic([orders], 'acme.shop')).toBeUndefined();
    expect(namespaceOfTopic([orders], 'other.shop.orders')).toBeUndefined();
    expect(namespaceOfTopic([orders], 'acme.shop.')).toBeUndefined();
  });

  it('lists a collection stream\'s topic exactly, and a database stream\'s as a pattern that skips dead letters', () => {
    expect(topicsOfStream(orders, { database: 'shop', collection: 'orders' })).toEqual(['orders-v1']);
    const listed = topicsOfStream(orders, { database: 'shop' });
    expect(listed.slice(0, -1)).toEqual(['orders-v1', 'shop-events']);
    const pattern = listed.at(-1);
    expect(pattern).toBeInstanceOf(RegExp);
    const matches = (topic: string) => (pattern as RegExp).test(topic);
    expect(matches('acme.shop.customers')).toBe(true);
    expect(matches('acme.crm.customers')).toBe(false);
    expect(matches('acme.dead-letter')).toBe(false);
    const all = topicsOfStream({ ...prefixNaming('acme'), deadLetterTopic: 'acme.ops.dead' }, {}).at(-1) as RegExp;
    expect(all.test('acme.crm.customers')).toBe(true);
    expect(all.test('acme.ops.dead')).toBe(false);
  });

  it('gives the sinks the relay\'s namings, plus an explicit prefix, else the default', () => {
    expect(sinkTopicNamings({})).toEqual([prefixNaming('mongo-cdc')]);
    expect(sinkTopicNamings({ CDC_STREAMS: [orders], SINK_TOPIC_PREFIX: 'old' })).toEqual([orders, prefixNaming('old')]);
  });
});
