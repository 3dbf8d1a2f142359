import { CdcError } from './errors';

/**
 * The event Lambda's Kafka event source mapping delivers, for Amazon MSK (`aws:kafka`) and self-managed Kafka
 * (`SelfManagedKafka`) alike: records grouped by "topic-partition", keys and values base64, header values byte arrays.
 */
export interface LambdaKafkaEvent {
  readonly eventSource?: string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
  readonly records: Readonly<Record<string, readonly LambdaKafkaRecord[]>>;
}

export interface LambdaKafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp?: number;
  readonly timestampType?: string;
  readonly key?: string | null;
  readonly value?: string | null;
  readonly headers?: ReadonlyArray<Readonly<Record<string, readonly number[]>>>;
}

/** One Kafka record as the sinks see it: raw bytes, decoded headers, and where it came from (for dead letters). */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Flattens the event into records, in partition order and offset order within each partition. */
export function recordsOf(event: LambdaKafkaEvent): SourceRecord[] {
  if (typeof event !== 'object' || event === null || typeof event.records !== 'object' || event.records === null) {
    throw new CdcError('RECORD_MALFORMED', 'the invocation is not a Lambda Kafka event (no "records" object)');
  }
  const records: SourceRecord[] = [];
  for (const batch of Object.values(event.records)) {
    // Lambda delivers each partition's records in offset order already; a stable sort of a sorted list changes nothing.
    const sorted = inOffsetOrder(batch) ? batch : [...batch].sort((a, b) => a.offset - b.offset);
    for (const record of sorted) {
      records.push({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key === undefined || record.key === null ? null : Buffer.from(record.key, 'base64'),
        value: record.value === undefined || record.value === null ? null : Buffer.from(record.value, 'base64'),
        headers: headersOf(record.headers),
      });
    }
  }
  return records;
}

function inOffsetOrder(batch: readonly LambdaKafkaRecord[]): boolean {
  for (let index = 1; index < batch.length; index++) {
    // Written so that anything but ascending numbers (NaN, a missing offset) takes the sort, as before.
    if (!((batch[index - 1] as LambdaKafkaRecord).offset <= (batch[index] as LambdaKafkaRecord).offset)) return false;
  }
  return true;
}

/** A record's headers, each value decoded as UTF-8, a later header of a name replacing an earlier one. */
export function headersOf(list: LambdaKafkaRecord['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of list ?? []) {
    // Object.keys: the names Object.entries gives, in its order, without a [name, value] array for each.
    for (const name of Object.keys(header)) headers[name] = headerText(header[name] as readonly number[]);
  }
  return headers;
}

/** Longest header value decoded by String.fromCharCode; longer ones take Buffer's decoder, faster at length. */
const SHORT_HEADER = 64;

/**
 * A header value's bytes as UTF-8 text: `Buffer.from(bytes).toString('utf8')`. A short array of ASCII byte values
 * (integers 0 to 127, whose UTF-8 text is their character codes) is decoded without the Buffer; anything else (other
 * bytes, non-integers, what Buffer.from would coerce) goes through the Buffer as before.
 */
export function headerText(bytes: readonly number[]): string {
  if (Array.isArray(bytes) && bytes.length <= SHORT_HEADER) {
    let text = '';
    let index = 0;
    for (; index < bytes.length; index++) {
      const byte = bytes[index];
      if (typeof byte !== 'number' || !(byte >= 0 && byte < 0x80) || (byte | 0) !== byte) break;
      text += String.fromCharCode(byte);
    }
    if (index === bytes.length) return text;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Builds the event Lambda would deliver for these records: for local runs and tests of the real handlers. */
export function lambdaKafkaEventOf(
  records: ReadonlyArray<Omit<SourceRecord, 'headers'> & { headers?: Readonly<Record<string, string>> }>,
  eventSource: 'aws:kafka' | 'SelfManagedKafka' = 'SelfManagedKafka',
): LambdaKafkaEvent {
  const grouped: Record<string, LambdaKafkaRecord[]> = {};
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`;
    const group = grouped[key] ?? [];
    grouped[key] = group;
    group.push({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: Date.now(),
      timestampType: 'CREATE_TIME',
      key: record.key === null ? null : record.key.toString('base64'),
      value: record.value === null ? null : record.value.toString('base64'),
      headers: Object.entries(record.headers ?? {}).map(([name, value]) => ({ [name]: [...Buffer.from(value, 'utf8')] })),
    });
  }
  return { eventSource, records: grouped };
}
