import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { fitsDynamoNumber, toAttributeMap } from './dynamo-item';

describe('DynamoDB item mapping', () => {
  it.each([
    ['0', true],
    ['-0', false],
    ['123.4500', true],
    ['1e125', true],
    ['9.9e125', true],
    ['1e126', false],
    ['1e-130', true],
    ['1e-131', false],
    ['0.000123', true],
    ['12345678901234567890123456789012345678', true],
    ['123456789012345678901234567890123456789', false],
    ['NaN', false],
  ])('knows whether %s fits a DynamoDB number (%s)', (text, fits) => {
    expect(fitsDynamoNumber(text)).toBe(fits);
  });

  it('maps every BSON type as documented', () => {
    const item = toAttributeMap({
      _id: new ObjectId('5f1d7f1b9d1e8a3b2c4d5e6f'),
      text: 'héllo',
      flag: true,
      nothing: null,
      int32: new Int32(7),
      long: Long.fromString('9223372036854775807'),
      double: new Double(1.5),
      negativeZero: new Double(-0),
      nan: new Double(Number.NaN),
      decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
      hugeDecimal: Decimal128.fromString('1E+6000'),
      date: new Date('1969-07-20T20:17:40.123Z'),
      binary: new Binary(Buffer.from([1, 2]), 4),
      timestamp: new Timestamp({ t: 10, i: 2 }),
      regex: new BSONRegExp('^a', 'i'),
      min: new MinKey(),
      max: new MaxKey(),
      nested: { list: [new Int32(1), { deep: 'x' }] },
      'a.b': 'dotted',
    });
    expect(item).toEqual({
      _id: { S: '5f1d7f1b9d1e8a3b2c4d5e6f' },
      text: { S: 'héllo' },
      flag: { BOOL: true },
      nothing: { NULL: true },
      int32: { N: '7' },
      long: { N: '9223372036854775807' },
      double: { N: '1.5' },
      negativeZero: { M: { $numberDouble: { S: '-0.0' } } },
      nan: { M: { $numberDouble: { S: 'NaN' } } },
      decimal: { N: '1234567890.123456789012345678901234' },
      hugeDecimal: { M: { $numberDecimal: { S: '1E+6000' } } },
      date: { S: '1969-07-20T20:17:40.123Z' },
      binary: { M: { $binary: { B: Uint8Array.from([1, 2]) }, $subtype: { N: '4' } } },
      timestamp: { M: { $timestamp: { M: { t: { N: '10' }, i: { N: '2' } } } } },
      regex: { M: { $regex: { S: '^a' }, $options: { S: 'i' } } },
      min: { M: { $minKey: { N: '1' } } },
      max: { M: { $maxKey: { N: '1' } } },
      nested: { M: { list: { L: [{ N: '1' }, { M: { deep: { S: 'x' } } }] } } },
      'a.b': { S: 'dotted' },
    });
  });
});

describe('documents with a field named _bsontype', () => {
  it('stores them as the plain maps they are', () => {
    expect(toAttributeMap({ counter: { _bsontype: 'Int32', value: new Int32(5) }, legacy: { _bsontype: 'ObjectID', id: 'abc' } })).toEqual({
      counter: { M: { _bsontype: { S: 'Int32' }, value: { N: '5' } } },
      legacy: { M: { _bsontype: { S: 'ObjectID' }, id: { S: 'abc' } } },
    });
  });
});
