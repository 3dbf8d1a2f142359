import { Int32, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CdcError } from './errors';
import {
  comparePositions,
  decodeResumePoint,
  encodeResumePoint,
  type StreamPosition,
  EXTERNAL_VERSION_END_SECONDS,
  EXTERNAL_VERSION_EPOCH_SECONDS,
  nextOrdinal,
  parsePositionKey,
  positionAt,
  positionToExternalLong,
  positionKey,
} from './stream-position';

const UINT32_MAX = 0xffff_ffff;

/** Park-Miller: a fixed seed makes a failing case reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16_807) % 2_147_483_647;
    return state / 2_147_483_647;
  };
}

/** Half the fields come from a few boundary values, so equal fields (where ordering bugs hide) are common. */
function randomField(random: () => number, boundaries: number[], min: number, max: number): number {
  return random() < 0.5 ? boundaries[Math.floor(random() * boundaries.length)]! : min + Math.floor(random() * (max - min + 1));
}

function randomVersion(random: () => number, seconds = { min: 0, max: UINT32_MAX }): StreamPosition {
  return {
    seconds: randomField(random, [seconds.min, 1_700_000_000, 1_700_000_001, seconds.max], seconds.min, seconds.max),
    increment: randomField(random, [0, 1, 15, 16, 255, 256, UINT32_MAX], 0, UINT32_MAX),
    ordinal: randomField(random, [0, 1, 15, 16, 100_000, UINT32_MAX], 0, UINT32_MAX),
  };
}

const byteOrder = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

function caught(act: () => unknown): CdcError {
  try {
    act();
  } catch (error) {
    if (error instanceof CdcError) return error;
    throw error;
  }
  throw new Error('expected a CdcError');
}

describe('positionAt', () => {
  it('takes seconds and increment from the cluster time as unsigned values', () => {
    // Prepare
    const clusterTime = new Timestamp({ t: UINT32_MAX, i: UINT32_MAX });

    // Act
    const version = positionAt(clusterTime, 7);

    // Assess
    expect(version).toEqual({ seconds: UINT32_MAX, increment: UINT32_MAX, ordinal: 7 });
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 32])('rejects ordinal %s', (ordinal) => {
    expect(caught(() => positionAt(new Timestamp({ t: 1, i: 1 }), ordinal)).code).toBe('RECORD_MALFORMED');
  });
});

describe('nextOrdinal', () => {
  const clusterTime = new Timestamp({ t: 1_700_000_000, i: 9 });

  it('starts at 0 without a previous event', () => {
    expect(nextOrdinal(undefined, clusterTime)).toBe(0);
  });

  it('counts on within one cluster time, across batches', () => {
    // Prepare
    const previous = { clusterTime: new Timestamp({ t: 1_700_000_000, i: 9 }), ordinal: 4 };

    // Act
    const ordinal = nextOrdinal(previous, clusterTime);

    // Assess
    expect(ordinal).toBe(5);
  });

  it.each([
    ['increment', new Timestamp({ t: 1_700_000_000, i: 8 })],
    ['seconds', new Timestamp({ t: 1_699_999_999, i: 9 })],
  ])('restarts at 0 when the %s differs', (_field, previousTime) => {
    expect(nextOrdinal({ clusterTime: previousTime, ordinal: 4 }, clusterTime)).toBe(0);
  });

  it('accepts the previous event as a stored version', () => {
    expect(nextOrdinal({ seconds: 1_700_000_000, increment: 9, ordinal: 2 }, clusterTime)).toBe(3);
    expect(nextOrdinal({ seconds: 1_700_000_000, increment: 10, ordinal: 2 }, clusterTime)).toBe(0);
  });

  it('numbers the operations of a transaction in order', () => {
    // Prepare
    const times = [5, 6, 6, 6, 7, 7].map((i) => new Timestamp({ t: 1_700_000_000, i }));

    // Act
    const ordinals: number[] = [];
    let previous: { clusterTime: Timestamp; ordinal: number } | undefined;
    for (const time of times) {
      const ordinal = nextOrdinal(previous, time);
      ordinals.push(ordinal);
      previous = { clusterTime: time, ordinal };
    }

    // Assess
    expect(ordinals).toEqual([0, 0, 1, 2, 0, 1]);
  });
});

describe('comparePositions', () => {
  it.each([
    [{ seconds: 1, increment: 0, ordinal: 0 }, { seconds: 2, increment: 0, ordinal: 0 }, -1],
    [{ seconds: 2, increment: 0, ordinal: 0 }, { seconds: 1, increment: UINT32_MAX, ordinal: UINT32_MAX }, 1],
    [{ seconds: 1, increment: 1, ordinal: 9 }, { seconds: 1, increment: 2, ordinal: 0 }, -1],
    [{ seconds: 1, increment: 1, ordinal: 1 }, { seconds: 1, increment: 1, ordinal: 0 }, 1],
    [{ seconds: 1, increment: 1, ordinal: 1 }, { seconds: 1, increment: 1, ordinal: 1 }, 0],
  ])('compares %o with %o as %i', (a, b, expected) => {
    expect(comparePositions(a, b)).toBe(expected);
    expect(comparePositions(b, a)).toBe(-expected || 0);
  });
});

describe('sortable version string', () => {
  it('orders strings (by bytes, as DynamoDB does) exactly as versions order', () => {
    // Prepare
    const random = seededRandom(42);

    for (let round = 0; round < 10_000; round++) {
      const a = randomVersion(random);
      const b = randomVersion(random);

      // Act
      const byString = byteOrder(positionKey(a), positionKey(b));

      // Assess
      expect(byString, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(comparePositions(a, b));
    }
  });

  it('round-trips through parsePositionKey', () => {
    // Prepare
    const random = seededRandom(7);

    for (let round = 0; round < 5_000; round++) {
      const version = randomVersion(random);

      // Act
      const text = positionKey(version);

      // Assess
      expect(text).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(parsePositionKey(text)).toEqual(version);
    }
  });

  it.each([
    [{ seconds: 0, increment: 0, ordinal: 0 }, '00000000-00000000-00000000'],
    [{ seconds: 1_800_000_000, increment: 5, ordinal: 3 }, '6b49d200-00000005-00000003'],
    [{ seconds: 1_700_000_000, increment: UINT32_MAX, ordinal: 0 }, '6553f100-ffffffff-00000000'],
    [{ seconds: UINT32_MAX, increment: UINT32_MAX, ordinal: UINT32_MAX }, 'ffffffff-ffffffff-ffffffff'],
    [{ seconds: 1, increment: 2, ordinal: 1_000_000 }, '00000001-00000002-000f4240'],
  ])('writes %o as %s', (version, text) => {
    expect(positionKey(version)).toBe(text);
    expect(parsePositionKey(text)).toEqual(version);
  });

  it.each([
    ['a negative field', { seconds: -1, increment: 0, ordinal: 0 }, /seconds -1/],
    ['a fraction', { seconds: 1, increment: 0.5, ordinal: 0 }, /increment 0.5/],
    ['an ordinal past 32 bits', { seconds: 1, increment: 0, ordinal: 2 ** 32 }, /ordinal 4294967296/],
  ])('refuses to write a version with %s', (_what, version, reason) => {
    expect(caught(() => positionKey(version)).message).toMatch(reason);
  });

  it.each([
    ['short fields', '6b49d200-5-3'],
    ['uppercase hex', '6B49D200-00000005-00000003'],
    ['a missing field', '6b49d200-00000005'],
    ['trailing text', '6b49d200-00000005-00000003x'],
    ['non-hex digits', '6b49d200-0000000g-00000003'],
    ['an empty string', ''],
  ])('rejects text with %s as RECORD_MALFORMED', (_what, text) => {
    // Act
    const error = caught(() => parsePositionKey(text));

    // Assess
    expect(error.code).toBe('RECORD_MALFORMED');
    expect(error.message).toMatch(/is not ssssssss-iiiiiiii-oooooooo/);
  });
});

describe('positionToExternalLong', () => {
  it('maps the edges of its range to 0 and 2^63-1', () => {
    // Act
    const first = positionToExternalLong({ seconds: EXTERNAL_VERSION_EPOCH_SECONDS, increment: 0, ordinal: 0 });
    const last = positionToExternalLong({ seconds: EXTERNAL_VERSION_END_SECONDS - 1, increment: UINT32_MAX, ordinal: 0 });

    // Assess
    expect(first).toBe(0n);
    expect(last).toBe(2n ** 63n - 1n);
  });

  it('computes (seconds - 2017) * 2^32 + increment', () => {
    expect(positionToExternalLong({ seconds: 1_700_000_000, increment: 7, ordinal: 3 })).toBe(
      (1_700_000_000n - 1_483_228_800n) * 2n ** 32n + 7n,
    );
  });

  it('orders as the cluster times order, and ignores the ordinal', () => {
    // Prepare
    const random = seededRandom(1234);
    const representable = { min: EXTERNAL_VERSION_EPOCH_SECONDS, max: EXTERNAL_VERSION_END_SECONDS - 1 };

    for (let round = 0; round < 10_000; round++) {
      const a = randomVersion(random, representable);
      const b = randomVersion(random, representable);

      // Act
      const externalA = positionToExternalLong(a);
      const externalB = positionToExternalLong(b);

      // Assess
      const byLong = externalA < externalB ? -1 : externalA > externalB ? 1 : 0;
      expect(byLong, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(comparePositions({ ...a, ordinal: 0 }, { ...b, ordinal: 0 }));
    }
  });

  it.each([
    ['before 2017', EXTERNAL_VERSION_EPOCH_SECONDS - 1],
    ['from 2085-01-19T03:14:08Z', EXTERNAL_VERSION_END_SECONDS],
  ])('refuses cluster times %s', (_when, seconds) => {
    // Act
    const error = caught(() => positionToExternalLong({ seconds, increment: 0, ordinal: 0 }));

    // Assess
    expect(error.code).toBe('RECORD_MALFORMED');
    expect(error.message).toMatch(/outside the range an external version can carry/);
  });
});

describe('resume point encoding', () => {
  it('reads an item without a resume point (created by the first lease) as a new stream', () => {
    expect(decodeResumePoint(undefined, undefined)).toEqual({ kind: 'now' });
  });

  it('round-trips every kind exactly', () => {
    for (const resume of [
      { kind: 'resumeAfter', token: { _data: '8263A1B2C3000000012B0229296E04' } },
      { kind: 'startAfter', token: { _data: 'ab', extra: new Int32(7) } },
      { kind: 'startAtOperationTime', seconds: 1_800_000_000, increment: 42 },
      { kind: 'now' },
    ] as const) {
      const { kind, value } = encodeResumePoint(resume);
      expect(decodeResumePoint(kind, value)).toEqual(resume);
    }
  });

  it.each([
    ['nowish', '', /unknown resumeKind "nowish"/],
    [undefined, '{"_data":"ab"}', /has no resumeKind/],
    ['resumeAfter', '{"_data":', /not Extended JSON/],
    ['resumeAfter', '"text"', /not a document/],
    ['startAtOperationTime', 'NaN.1', /not "<seconds>.<increment>"/],
    ['startAtOperationTime', '', /not "<seconds>.<increment>"/],
    ['startAtOperationTime', '99999999999.0', /not "<seconds>.<increment>"/],
  ])('refuses a checkpoint it cannot decode instead of restarting from now (%s %s)', (kind, value, message) => {
    expect(() => decodeResumePoint(kind, value)).toThrow(message);
    expect(() => decodeResumePoint(kind, value)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_CONFLICT' }));
  });
});
