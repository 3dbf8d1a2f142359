import { Timestamp } from 'mongodb';
import { CdcError } from './errors';

/**
 * Where an event stands in the oplog: its cluster time (seconds and increment) and, because every operation of one
 * transaction shares one cluster time, its ordinal among the consecutive events with that cluster time. The relay
 * assigns the ordinal and carries it across batches and invocations in the checkpoint.
 */
export interface EventVersion {
  readonly seconds: number;
  readonly increment: number;
  readonly ordinal: number;
}

const UINT32_MAX = 0xffff_ffff;

export function versionOf(clusterTime: Timestamp, ordinal: number): EventVersion {
  return { seconds: clusterTime.high >>> 0, increment: clusterTime.low >>> 0, ordinal };
}

/** The ordinal of an event with cluster time `current`, given the previous event's cluster time and ordinal. */
export function nextOrdinal(previous: { seconds: number; increment: number; ordinal: number } | undefined, current: Timestamp): number {
  const same = previous !== undefined && previous.seconds === current.high >>> 0 && previous.increment === current.low >>> 0;
  return same ? previous.ordinal + 1 : 0;
}

export function compareVersions(a: EventVersion, b: EventVersion): -1 | 0 | 1 {
  for (const field of ['seconds', 'increment', 'ordinal'] as const) {
    if (a[field] < b[field]) return -1;
    if (a[field] > b[field]) return 1;
  }
  return 0;
}

const hex8 = (value: number) => (value >>> 0).toString(16).padStart(8, '0');

/** Fixed-width hex "ssssssss-iiiiiiii-oooooooo": string order equals version order (a DynamoDB condition can compare it). */
export function versionToSortableString(version: EventVersion): string {
  for (const field of ['seconds', 'increment', 'ordinal'] as const) {
    const value = version[field];
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
      throw new CdcError('RECORD_MALFORMED', `version ${field} ${value} is not an unsigned 32-bit integer`);
    }
  }
  return `${hex8(version.seconds)}-${hex8(version.increment)}-${hex8(version.ordinal)}`;
}

export function parseSortableVersion(text: string): EventVersion {
  const match = /^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})$/.exec(text);
  if (!match) throw new CdcError('RECORD_MALFORMED', `"${text}" is not a version (expected ssssssss-iiiiiiii-oooooooo hex)`);
  return { seconds: Number.parseInt(match[1]!, 16), increment: Number.parseInt(match[2]!, 16), ordinal: Number.parseInt(match[3]!, 16) };
}

/** 2017-01-01T00:00:00Z: change streams did not exist before MongoDB 3.6 (late 2017). */
const EXTERNAL_EPOCH_SECONDS = 1_483_228_800;

/**
 * The version as an OpenSearch/Elasticsearch external version (a long in [0, 2^63-1]): seconds since 2017 in the high
 * 31 bits and the increment in the low 32, which lasts until 2085. The ordinal does not fit: operations of one
 * transaction share a value, so sinks use version_type=external_gte and rely on in-order delivery within a transaction.
 */
export function versionToExternalLong(version: EventVersion): bigint {
  const since = version.seconds - EXTERNAL_EPOCH_SECONDS;
  if (since < 0 || since >= 2 ** 31) {
    throw new CdcError('RECORD_MALFORMED', `cluster time ${version.seconds} s is outside 2017-2085, which external versions can carry`);
  }
  return (BigInt(since) << 32n) | BigInt(version.increment >>> 0);
}
