import { Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  type EventVersion,
  nextOrdinal,
  parseSortableVersion,
  versionToExternalLong,
  versionToSortableString,
} from './event-version';

function randomVersion(random: () => number): EventVersion {
  // Small ranges make equal fields common, which is where ordering bugs hide.
  const pick = (choices: number[]) => choices[Math.floor(random() * choices.length)]!;
  return {
    seconds: pick([1_483_228_800, 1_700_000_000, 1_700_000_001, 0xffff_ffff]),
    increment: pick([0, 1, 255, 256, 0xffff_ffff]),
    ordinal: pick([0, 1, 15, 16, 100_000]),
  };
}

describe('event version', () => {
  it('orders sortable strings exactly as it orders versions', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647);
    for (let round = 0; round < 5_000; round++) {
      const a = randomVersion(random);
      const b = randomVersion(random);
      const byString = Math.sign(versionToSortableString(a).localeCompare(versionToSortableString(b), 'en'));
      const plain = versionToSortableString(a) < versionToSortableString(b) ? -1 : versionToSortableString(a) > versionToSortableString(b) ? 1 : 0;
      expect(plain).toBe(compareVersions(a, b));
      expect(byString).toBe(plain);
      expect(parseSortableVersion(versionToSortableString(a))).toEqual(a);
    }
  });

  it('counts ordinals within one cluster time and restarts at a new one', () => {
    const t = new Timestamp({ t: 1_700_000_000, i: 9 });
    expect(nextOrdinal(undefined, t)).toBe(0);
    expect(nextOrdinal({ seconds: 1_700_000_000, increment: 9, ordinal: 4 }, t)).toBe(5);
    expect(nextOrdinal({ seconds: 1_700_000_000, increment: 8, ordinal: 4 }, t)).toBe(0);
  });

  it('maps versions to increasing external longs within range', () => {
    const early = versionToExternalLong({ seconds: 1_483_228_800, increment: 0, ordinal: 0 });
    const later = versionToExternalLong({ seconds: 1_483_228_800, increment: 0xffff_ffff, ordinal: 0 });
    const latest = versionToExternalLong({ seconds: 1_483_228_801 + 2 ** 31 - 2, increment: 0xffff_ffff, ordinal: 0 });
    expect(early).toBe(0n);
    expect(later > early).toBe(true);
    expect(latest <= 2n ** 63n - 1n).toBe(true);
    expect(() => versionToExternalLong({ seconds: 1_000, increment: 0, ordinal: 0 })).toThrow(/outside 2017-2085/);
  });

  it('rejects text that is not a version', () => {
    expect(() => parseSortableVersion('6b49d200-5-3')).toThrow(/is not a version/);
  });
});
