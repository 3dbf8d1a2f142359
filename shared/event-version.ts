import type { Timestamp } from 'mongodb';
import { CdcError } from './errors';

/**
 * Where an event stands in the oplog, which is the order sinks apply events in: its cluster time (seconds and
 * increment) and, because every operation of one transaction shares one cluster time, its ordinal among the
 * consecutive events with that cluster time. The relay assigns the ordinal and carries it across batches and
 * invocations in the checkpoint.
 */
export interface EventVersion {
  readonly seconds: number;
  readonly increment: number;
  readonly ordinal: number;
}

const UINT32_MAX = 0xffff_ffff;
const FIELDS = ['seconds', 'increment', 'ordinal'] as const;

function assertVersion(version: EventVersion): void {
  for (const field of FIELDS) {
    const value = version[field];
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
      throw new CdcError('RECORD_MALFORMED', `version ${field} ${String(value)} is not an unsigned 32-bit integer`);
    }
  }
}

export function versionOf(clusterTime: Timestamp, ordinal: number): EventVersion {
  const version = { seconds: clusterTime.t, increment: clusterTime.i, ordinal };
  assertVersion(version);
  return version;
}

/** The previous event as the relay remembers it: with its cluster time, or as the version the checkpoint stores. */
export type PreviousEvent = { readonly clusterTime: Timestamp; readonly ordinal: number } | EventVersion;

/** The ordinal of an event with cluster time `current`: one past the previous event's when they share a cluster time. */
export function nextOrdinal(previous: PreviousEvent | undefined, current: Timestamp): number {
  if (previous === undefined) return 0;
  const [seconds, increment] =
    'clusterTime' in previous ? [previous.clusterTime.t, previous.clusterTime.i] : [previous.seconds, previous.increment];
  return seconds === current.t && increment === current.i ? previous.ordinal + 1 : 0;
}

export function compareVersions(a: EventVersion, b: EventVersion): -1 | 0 | 1 {
  for (const field of FIELDS) {
    if (a[field] < b[field]) return -1;
    if (a[field] > b[field]) return 1;
  }
  return 0;
}

const hex8 = (value: number) => value.toString(16).padStart(8, '0');

/**
 * "ssssssss-iiiiiiii-oooooooo", fixed-width lowercase hex: byte order equals version order, so a DynamoDB condition
 * (`attribute < :version`) can compare it, and it stays readable in the console.
 */
export function versionToSortableString(version: EventVersion): string {
  assertVersion(version);
  return `${hex8(version.seconds)}-${hex8(version.increment)}-${hex8(version.ordinal)}`;
}

const SORTABLE = /^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})$/;

export function parseSortableVersion(text: string): EventVersion {
  const match = typeof text === 'string' ? SORTABLE.exec(text) : null;
  if (!match) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 64)) : typeof text;
    throw new CdcError('RECORD_MALFORMED', `version ${shown} is not ssssssss-iiiiiiii-oooooooo in lowercase hex`);
  }
  const [, seconds, increment, ordinal] = match as unknown as [string, string, string, string];
  return { seconds: Number.parseInt(seconds, 16), increment: Number.parseInt(increment, 16), ordinal: Number.parseInt(ordinal, 16) };
}

/** 2017-01-01T00:00:00Z. Change streams arrived with MongoDB 3.6 (late 2017), so no event is older. */
export const EXTERNAL_VERSION_EPOCH_SECONDS = 1_483_228_800;

/** The first second the external version cannot carry: 2017 + 2^31 s, in January 2085. */
export const EXTERNAL_VERSION_END_SECONDS = EXTERNAL_VERSION_EPOCH_SECONDS + 2 ** 31;

/**
 * The version as an OpenSearch/Elasticsearch external version (a long in [0, 2^63-1]), for version_type=external_gte:
 * `(seconds - 2017-01-01) * 2^32 + increment`. Counting from 2017 keeps it below 2^63 until January 2085. The ordinal
 * has no room: events of one transaction share a value, and external_gte accepts each of them, so their relative order
 * in the index relies on in-order delivery within a partition.
 */
export function versionToExternalLong(version: EventVersion): bigint {
  assertVersion(version);
  if (version.seconds < EXTERNAL_VERSION_EPOCH_SECONDS || version.seconds >= EXTERNAL_VERSION_END_SECONDS) {
    throw new CdcError(
      'RECORD_MALFORMED',
      `cluster time ${version.seconds} s is outside the range an external version can carry (2017-01-01 to 2085-01-19)`,
    );
  }
  return (BigInt(version.seconds - EXTERNAL_VERSION_EPOCH_SECONDS) << 32n) + BigInt(version.increment);
}
