import { BSON, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { BsonCanonicalJsonWriter } from './bson-canonical-json';
import { bsonTypeOf } from './bson-value';
import { parseCanonical, stringifyCanonical } from './canonical-json';

const RAW_VALUES = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/**
 * BSON bytes of a document whose sub-documents have a field named `_bsontype`, as another driver (or an application
 * that once stored old bson objects serialized as JSON) writes them. bson itself refuses to serialize such a plain
 * object, so the field is written under a same-length name and renamed in the bytes.
 */
function documentWithBsonTypeFields(): Buffer {
  const bytes = BSON.serialize({
    _id: new Int32(7),
    counter: { zbsontype: 'Int32', value: new Int32(5) },
    legacy: { zbsontype: 'ObjectID', id: 'abc' },
    list: [{ zbsontype: 'Long', low: 1, high: 0 }],
  });
  return Buffer.from(Buffer.from(bytes).toString('latin1').replaceAll('zbsontype', '_bsontype'), 'latin1');
}

describe('BSON values and plain documents', () => {
  it('names the type of bson value objects only', () => {
    expect(bsonTypeOf(new Int32(1))).toBe('Int32');
    expect(bsonTypeOf(Long.fromNumber(1))).toBe('Long');
    expect(bsonTypeOf(new ObjectId())).toBe('ObjectId');
    expect(bsonTypeOf(new Timestamp({ t: 1, i: 2 }))).toBe('Timestamp');
    expect(bsonTypeOf({ _bsontype: 'Int32', value: 5 })).toBeUndefined();
    expect(bsonTypeOf({})).toBeUndefined();
    expect(bsonTypeOf(null)).toBeUndefined();
    expect(bsonTypeOf('Int32')).toBeUndefined();
  });

  it('encodes a document with `_bsontype` fields as the plain document it is, the same from objects and from bytes', () => {
    // Prepare
    const bytes = documentWithBsonTypeFields();
    const document = BSON.deserialize(bytes, RAW_VALUES);
    const writer = new BsonCanonicalJsonWriter(16);
    writer.document(bytes, 0);

    // Act
    const fromObjects = stringifyCanonical(document);
    const fromBytes = writer.take().toString('utf8');

    // Assess
    expect(fromObjects).toBe(
      '{"_id":{"$numberInt":"7"},"counter":{"_bsontype":"Int32","value":{"$numberInt":"5"}},' +
        '"legacy":{"_bsontype":"ObjectID","id":"abc"},"list":[{"_bsontype":"Long","low":{"$numberInt":"1"},"high":{"$numberInt":"0"}}]}',
    );
    expect(fromBytes).toBe(fromObjects);
    const decoded = parseCanonical(fromObjects) as { counter: Record<string, unknown> };
    expect(decoded.counter._bsontype).toBe('Int32');
    expect(stringifyCanonical(decoded)).toBe(fromObjects);
  });
});
