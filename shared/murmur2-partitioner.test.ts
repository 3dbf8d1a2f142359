import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Murmur2Partitioner, murmur2 } from './murmur2-partitioner';

// KafkaJS's own hash (64-bit Long arithmetic), the reference it has long shipped as Java-compatible.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer) => number;

/** Keys shaped like the relay's (documentKey as canonical Extended JSON) and arbitrary bytes of every short length. */
function sampleKeys(count: number): Buffer[] {
  const keys: Buffer[] = [];
  for (let index = 0; keys.length < count; index++) {
    keys.push(Buffer.from(`{"_id":{"$oid":"${randomBytes(12).toString('hex')}"}}`));
    keys.push(Buffer.from(`{"_id":{"$numberInt":"${index}"}}`));
    keys.push(Buffer.from(`{"_id":"k\u00e9y-${index}-\u{1f600}"}`));
    keys.push(randomBytes(index % 67));
  }
  return keys.slice(0, count);
}

// KafkaJS's hash takes several microseconds per key; on a busy CI machine 200,000 of them need more than the default 5 s.
const MANY_KEYS_TIMEOUT_MS = 60_000;
const keys = sampleKeys(200_000);

const metadata = (partitions: number): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

describe('murmur2', () => {
  it("matches Kafka's Java Utils.murmur2 on the vectors of Kafka's own UtilsTest", () => {
    const cases: Array<[Buffer, number]> = [
      [Buffer.from('21'), -973932308],
      [Buffer.from('foobar'), -790332482],
      [Buffer.from('a-little-bit-long-string'), -985981536],
      [Buffer.from('a-little-bit-longer-string'), -1486304829],
      [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [Buffer.from('abc'), 479470107],
    ];
    for (const [key, expected] of cases) expect(murmur2(key), key.toString()).toBe(expected);
  });

  it("gives KafkaJS's hash for 200,000 keys", () => {
    let differences = 0;
    for (const key of keys) if (murmur2(key) !== kafkajsMurmur2(key)) differences++;
    expect(differences).toBe(0);
  }, MANY_KEYS_TIMEOUT_MS);
});

describe('Murmur2Partitioner', () => {
  it("sends 200,000 keys to the partitions KafkaJS's default partitioner chooses, for 1 to 64 partitions", () => {
    const ours = Murmur2Partitioner();
    const theirs = Partitioners.DefaultPartitioner();
    let differences = 0;
    keys.forEach((key, index) => {
      const partitionMetadata = metadata((index % 64) + 1);
      const args = { topic: 't', partitionMetadata, message: { key, value: null } };
      if (ours(args) !== theirs(args)) differences++;
    });
    expect(differences).toBe(0);
  }, MANY_KEYS_TIMEOUT_MS);

  it('keeps an explicit partition and hashes string keys as their UTF-8 bytes', () => {
    const partitioner = Murmur2Partitioner();
    expect(partitioner({ topic: 't', partitionMetadata: metadata(6), message: { key: 'x', value: null, partition: 4 } })).toBe(4);
    const key = '{"_id":"caf\u00e9"}';
    expect(partitioner({ topic: 't', partitionMetadata: metadata(7), message: { key, value: null } })).toBe(
      (murmur2(Buffer.from(key)) & 0x7fffffff) % 7,
    );
  });

  it('spreads keyless records over the partitions that have a leader', () => {
    const partitioner = Murmur2Partitioner();
    const partitionMetadata = metadata(4).map((partition) => (partition.partitionId === 2 ? { ...partition, leader: -1 } : partition));
    const chosen = new Set(Array.from({ length: 30 }, () => partitioner({ topic: 't', partitionMetadata, message: { value: null } })));
    expect([...chosen].sort()).toEqual([0, 1, 3]);
  });
});
