import { Binary, BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'mongodb';
import { parseCanonical, stringifyCanonical } from '../shared/canonical-json';

/**
 * npm run bench -- codec: the canonical Extended JSON codec against bson's EJSON on a change event as the relay
 * writes it (about 1.5 KiB, the common BSON types), in microseconds per encode and per decode.
 */

const CANONICAL = { relaxed: false } as const;

function changeEvent(index: number) {
  const id = new ObjectId();
  return {
    _id: { _data: `8265${index.toString(16).padStart(8, '0')}000000012B022C0100296E5A1004` },
    operationType: 'update',
    clusterTime: new Timestamp({ t: 1_790_000_000, i: index }),
    wallTime: new Date(1_790_000_000_000 + index),
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: id },
    fullDocument: {
      _id: id,
      n: new Int32(index),
      total: new Double(index * 1.25),
      big: Long.fromNumber(index * 1_000_003),
      price: Decimal128.fromString(`${index}.99`),
      customer: `customer-${index % 997}`,
      status: ['new', 'paid', 'shipped'][index % 3],
      tags: ['a', 'b', 'c'],
      lines: Array.from({ length: 8 }, (_, line) => ({ sku: `SKU-${line}`, qty: new Int32(line + 1), unit: new Double(9.5) })),
      photo: new Binary(Buffer.alloc(16, index)),
      note: 'x'.repeat(600),
    },
  };
}

function microsPerOp(operation: (index: number) => unknown, count: number): number {
  for (let index = 0; index < Math.min(2_000, count); index++) operation(index); // warm-up
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index++) operation(index);
  return Number(process.hrtime.bigint() - started) / 1_000 / count;
}

export function codecBenchmark(count = Number(process.env.BENCH_CODEC_OPS ?? 20_000)): void {
  const events = Array.from({ length: 100 }, (_, index) => changeEvent(index));
  const texts = events.map((event) => BSON.EJSON.stringify(event, CANONICAL));
  for (const [index, event] of events.entries()) {
    if (stringifyCanonical(event) !== texts[index]) throw new Error('the codec and bson disagree on a benchmark event');
  }
  const pick = <T>(list: readonly T[], index: number) => list[index % list.length] as T;
  const results = {
    encodeCanonical: microsPerOp((index) => stringifyCanonical(pick(events, index)), count),
    encodeBson: microsPerOp((index) => BSON.EJSON.stringify(pick(events, index), CANONICAL), count),
    decodeCanonical: microsPerOp((index) => parseCanonical(pick(texts, index)), count),
    decodeBson: microsPerOp((index) => BSON.EJSON.parse(pick(texts, index), CANONICAL), count),
  };
  const bytes = Math.round(texts.reduce((sum, text) => sum + text.length, 0) / texts.length);
  console.log(`change event of ${bytes} bytes, ${count} operations each (BENCH_CODEC_OPS)`);
  console.log(`encode: canonical-json ${results.encodeCanonical.toFixed(1)} µs, bson EJSON ${results.encodeBson.toFixed(1)} µs  (x${(results.encodeBson / results.encodeCanonical).toFixed(2)})`);
  console.log(`decode: canonical-json ${results.decodeCanonical.toFixed(1)} µs, bson EJSON ${results.decodeBson.toFixed(1)} µs  (x${(results.decodeBson / results.decodeCanonical).toFixed(2)})`);
}
