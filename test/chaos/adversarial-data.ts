import { Binary, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, BSONRegExp, Timestamp, UUID, type Document } from 'mongodb';

/** A seeded generator (mulberry32): one seed, one sequence, so a failing run can be replayed. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  hex(length: number): string {
    return Array.from({ length }, () => this.int(16).toString(16)).join('');
  }
}

const UNICODE = ['é', 'ß', 'ключ', '键', '🙂', 'ﷺ', '\u200d', 'a\u0301', '𝔘'];

/** `_id`s of every kind MongoDB users have: ObjectId, short, long and unicode strings, numbers, documents, UUIDs. */
export function adversarialId(random: SeededRandom, index: number): unknown {
  switch (index % 10) {
    case 0:
      return new ObjectId(`${random.hex(8)}${index.toString(16).padStart(16, '0')}`);
    case 1:
      return `id-${index}`;
    case 2:
      // Longer than DynamoDB's 2,048-byte key and OpenSearch's 512-byte id.
      return `long-${index}-${'x'.repeat(2_100 + random.int(500))}`;
    case 3:
      return `${random.pick(UNICODE)}${random.pick(UNICODE)}-${index}`;
    case 4:
      return new Int32(index);
    case 5:
      return Long.fromString(`${9_000_000_000_000_000 + index}`);
    case 6:
      return new Double(index + 0.5);
    case 7:
      return { tenant: `t${index % 3}`, n: new Int32(index) };
    case 8:
      return new UUID(`${random.hex(8)}-${random.hex(4)}-4${random.hex(3)}-8${random.hex(3)}-${index.toString(16).padStart(12, '0')}`);
    default:
      return `${index}`;
  }
}

function edgeValue(random: SeededRandom): unknown {
  return random.pick<() => unknown>([
    () => random.pick(['', ' ', 'plain', `${random.pick(UNICODE)}${random.pick(UNICODE)}`, 'a\u0000b', '"quoted"\\']),
    () => new Int32(random.pick([0, -1, 2_147_483_647, -2_147_483_648])),
    () => Long.fromString(random.pick(['9223372036854775807', '-9223372036854775808', '9007199254740993', '0'])),
    () => new Double(random.pick([0.1, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 5e-324, 1.7976931348623157e308, 1e21, -2.5])),
    () => Decimal128.fromString(random.pick(['0.1', '-0', '1E+6144', '1.000000000000000000000000000000001', 'NaN', '-Infinity', '455.40'])),
    () => new Date(random.pick([0, -62_135_596_800_000, 253_402_300_799_999, 1_700_000_000_123])),
    () => new Binary(Buffer.from(random.hex(32), 'hex'), random.pick([0, 4, 128])),
    () => new ObjectId(),
    () => new Timestamp({ t: random.int(2_000_000_000), i: random.int(100) }),
    () => new BSONRegExp(random.pick(['^a.*', '[é]+', '\\d{3}']), random.pick(['', 'i', 'ims'])),
    () => random.pick([new MinKey(), new MaxKey()]),
    () => new Code('function () { return 1; }'),
    () => random.pick([null, true, false]),
  ])();
}

function nested(random: SeededRandom, depth: number): Document {
  let value: Document = { leaf: edgeValue(random) };
  for (let level = 0; level < depth; level++) value = { [`n${level}`]: value, at: new Int32(level) };
  return value;
}

export interface DocumentOptions {
  /** Probability of a field of ~900 KB (fits Kafka, not DynamoDB's 400 KB items). */
  readonly large: number;
  /** Probability of a document over Kafka's 1 MB record limit. */
  readonly oversize: number;
}

/** A document with edge values of every BSON type, deep nesting, large and mixed-type arrays, and a shifting field. */
export function adversarialDocument(random: SeededRandom, id: unknown, step: number, options: DocumentOptions): Document {
  const document: Document = { _id: id, step: new Int32(step), label: `step ${step} ${random.pick(UNICODE)}` };
  const fields = 2 + random.int(8);
  for (let index = 0; index < fields; index++) document[`f${random.int(12)}`] = edgeValue(random);
  // The same name holding another type from one document to the next: a mapping conflict for a search index.
  document.shifty = random.pick<() => unknown>([() => new Int32(step), () => `text ${step}`, () => ({ inner: step }), () => [step, `${step}`], () => true])();
  if (random.chance(0.3)) document.mixed = [new Int32(1), 'two', { three: 3 }, [4], null, new Double(5.5), new Date(6)];
  if (random.chance(0.2)) document.deep = nested(random, 5 + random.int(45));
  if (random.chance(0.1)) document.big = Array.from({ length: 2_000 + random.int(8_000) }, (_, index) => new Int32(index));
  if (random.chance(options.large)) document.blob = 'L'.repeat(900_000 + random.int(50_000));
  else if (random.chance(options.oversize)) document.blob = 'O'.repeat(1_100_000 + random.int(200_000));
  return document;
}
