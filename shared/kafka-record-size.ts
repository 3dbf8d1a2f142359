/** The largest record batch a broker takes by default (message.max.bytes), and MSK's default too. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

export interface SizedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Bytes Kafka counts against message.max.bytes for one record, with room for the record and batch framing. */
export function kafkaRecordSize(record: SizedRecord): number {
  return 70 + (record.key?.length ?? 0) + (record.value?.length ?? 0) + headersSize(record.headers);
}

/** The headers' share of kafkaRecordSize, kept per frozen header object: records share one, and it cannot change. */
const frozenHeadersSize = new WeakMap<object, number>();

function headersSize(headers: Readonly<Record<string, string>>): number {
  const known = frozenHeadersSize.get(headers);
  if (known !== undefined) return known;
  let size = 0;
  for (const [name, value] of Object.entries(headers)) size += Buffer.byteLength(name) + Buffer.byteLength(value) + 8;
  if (Object.isFrozen(headers)) frozenHeadersSize.set(headers, size);
  return size;
}

/**
 * Groups consecutive records into requests each below `maxRequestBytes`. KafkaJS puts every record of one partition in
 * a send into one record batch, which the broker refuses whole when it exceeds message.max.bytes; sending the groups
 * one after another keeps their order.
 */
export function chunkBySize<T extends SizedRecord>(records: readonly T[], maxRequestBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const record of records) {
    const size = kafkaRecordSize(record);
    if (current.length > 0 && currentBytes + size > maxRequestBytes) {
      chunks.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(record);
    currentBytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
