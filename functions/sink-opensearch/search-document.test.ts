import { Double, Int32, Long, ObjectId, UUID } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { indexBodyWith, mongoIdText, moveAllToUnindexed, moveToUnindexed, toSearchDocument, withUnindexedRestored } from './search-document';

describe('mongo_id text', () => {
  it('gives one text per _id value, whatever its kind', () => {
    expect(mongoIdText('abc')).toBe('abc');
    expect(mongoIdText(new ObjectId('64b7f0c2a1b2c3d4e5f60718'))).toBe('64b7f0c2a1b2c3d4e5f60718');
    expect(mongoIdText(new Int32(1))).toBe('1');
    expect(mongoIdText(new Double(1))).toBe('1');
    expect(mongoIdText(Long.fromString('9223372036854775807'))).toBe('9223372036854775807');
    expect(mongoIdText({ a: new Int32(1) })).toBe('{"a":{"$numberInt":"1"}}');
    expect(mongoIdText(new UUID('0b5e3c1a-8f4e-4d6b-9c2a-1e3f5a7b9c0d'))).toBe('{"$binary":{"base64":"C148Go9OTWucKh4/WnucDQ==","subType":"04"}}');
    expect(toSearchDocument({ _id: new Int32(7), v: 1 })).toEqual({ mongo_id: '7', v: 1 });
  });
});

describe('fields kept aside from the index', () => {
  it('moves a nested field by its dotted path and puts it back', () => {
    const source = toSearchDocument({ _id: 1, meta: { size: 'big', colour: 'red' }, tags: ['a', { b: 1 }] });
    expect(moveToUnindexed(source, 'meta.size')).toBe(true);
    expect(moveToUnindexed(source, 'tags.b')).toBe(true);
    expect(source).toEqual({ mongo_id: '1', meta: { colour: 'red' }, mongo_unindexed: { 'meta.size': 'big', tags: ['a', { b: 1 }] } });
    expect(withUnindexedRestored(source)).toEqual({ mongo_id: '1', meta: { size: 'big', colour: 'red' }, tags: ['a', { b: 1 }] });
  });

  it('finds field names that hold dots, and refuses paths that name nothing or mongo_id', () => {
    const source: Record<string, unknown> = { mongo_id: 'x', 'a.b': { c: 1 } };
    expect(moveToUnindexed(source, 'a.b.c')).toBe(true);
    expect(source.mongo_unindexed).toEqual({ 'a.b.c': 1 });
    expect(moveToUnindexed(source, 'nothing.here')).toBe(false);
    expect(moveToUnindexed(source, 'mongo_id')).toBe(false);
  });

  it('moves everything but mongo_id as a last resort', () => {
    const source: Record<string, unknown> = { mongo_id: 'x', a: 1, b: [2] };
    expect(moveAllToUnindexed(source)).toBe(2);
    expect(source).toEqual({ mongo_id: 'x', mongo_unindexed: { a: 1, b: [2] } });
    expect(withUnindexedRestored(source)).toEqual({ mongo_id: 'x', a: 1, b: [2] });
  });

  it('adds the required mappings to an index body without dropping its own', () => {
    expect(indexBodyWith({ settings: { number_of_shards: 1 }, mappings: { properties: { name: { type: 'text' } } } })).toEqual({
      settings: { number_of_shards: 1 },
      mappings: { properties: { name: { type: 'text' }, mongo_id: { type: 'keyword' }, mongo_unindexed: { type: 'object', enabled: false } } },
    });
  });
});

describe('documents with a field named _bsontype', () => {
  it('indexes them as the plain documents they are', () => {
    const document = { _id: { _bsontype: 'ObjectID', id: 'abc' }, counter: { _bsontype: 'Int32', value: new Int32(5) }, list: [{ _bsontype: 'Long', low: 1 }] };

    expect(toSearchDocument(document)).toEqual({
      mongo_id: '{"_bsontype":"ObjectID","id":"abc"}',
      counter: { _bsontype: 'Int32', value: 5 },
      list: [{ _bsontype: 'Long', low: 1 }],
    });
  });
});
