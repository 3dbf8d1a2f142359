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
    const sorted = [...batch].sort((a, b) => a.offset - b.offset);
    for (const record of sorted) {
      const headers: Record<string, string> = {};
      for (const header of record.headers ?? []) {
        for (const [name, bytes] of Object.entries(header)) headers[name] = Buffer.from(bytes).toString('utf8');
      }
      records.push({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key === undefined || record.key === null ? null : Buffer.from(record.key, 'base64'),
        value: record.value === undefined || record.value === null ? null : Buffer.from(record.value, 'base64'),
        headers,
      });
    }
  }
  return records;
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
