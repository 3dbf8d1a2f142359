import { BSON, type ChangeStreamDocument, type Document, Int32, Timestamp } from 'mongodb';
import { encodeChangeEvent } from '../../shared/record-format';
import type { SourceRecord } from '../../shared/lambda-kafka-event';

/**
 * A deterministic history of document changes in one collection, encoded exactly as the relay encodes real change
 * events, with the final state it must leave behind. Several operations share a cluster time now and then, as the
 * operations of one transaction do: the local MongoDB stand-in has no transactions, and a seeded history gives the
 * sinks the same interleavings on every run.
 */
export interface ChangeHistory {
  readonly records: SourceRecord[];
  readonly finalState: Map<string, Document | undefined>;
}

export function buildChangeHistory(options: {
  db: string;
  coll: string;
  topic: string;
  documents: number;
  operations: number;
  partitions: number;
  seed: number;
}): ChangeHistory {
  let seed = options.seed;
  const random = () => {
    seed = (seed * 48_271) % 2_147_483_647;
    return seed / 2_147_483_647;
  };
  const state = new Map<number, Document | undefined>();
  const offsets = Array.from({ length: options.partitions }, () => 0);
  const records: SourceRecord[] = [];
  let seconds = 1_790_000_000;
  let increment = 0;
  let ordinal = 0;
  let transactionLeft = 0;

  for (let step = 0; step < options.operations; step++) {
    if (transactionLeft > 0) {
      transactionLeft--;
      ordinal++;
    } else {
      ordinal = 0;
      increment++;
      if (increment > 50) {
        seconds++;
        increment = 1;
      }
      if (random() < 0.05) transactionLeft = 1 + Math.floor(random() * 4);
    }
    const id = Math.floor(random() * options.documents);
    const current = state.get(id);
    let operationType: 'insert' | 'update' | 'replace' | 'delete';
    let next: Document | undefined;
    if (!current) {
      operationType = 'insert';
      next = { _id: new Int32(id), name: `doc-${id}`, counter: new Int32(0), tags: ['new'], step: new Int32(step) };
    } else {
      const roll = random();
      if (roll < 0.5) {
        operationType = 'update';
        next = { ...current, counter: new Int32(Number(current.counter) + 1), step: new Int32(step) };
      } else if (roll < 0.75) {
        operationType = 'replace';
        next = { _id: new Int32(id), name: `replaced-${step}`, nested: { at: new Date(1_700_000_000_000 + step) }, step: new Int32(step) };
      } else {
        operationType = 'delete';
        next = undefined;
      }
    }
    state.set(id, next);
    const event = {
      _id: { _data: `${seconds.toString(16)}${increment.toString(16).padStart(8, '0')}${ordinal}` },
      operationType,
      clusterTime: new Timestamp({ t: seconds, i: increment }),
      ns: { db: options.db, coll: options.coll },
      documentKey: { _id: new Int32(id) },
      ...(next ? { fullDocument: next } : {}),
      ...(operationType === 'update' ? { updateDescription: { updatedFields: { counter: next?.counter, step: next?.step }, removedFields: [] } } : {}),
    } as unknown as ChangeStreamDocument;
    const encoded = encodeChangeEvent(event, { ordinal });
    const partition = id % options.partitions;
    records.push({ topic: options.topic, partition, offset: offsets[partition]!++, key: encoded.key, value: encoded.value, headers: encoded.headers });
  }
  const finalState = new Map<string, Document | undefined>();
  for (const [id, document] of state) finalState.set(BSON.EJSON.stringify({ _id: new Int32(id) }, { relaxed: false }), document);
  return { records, finalState };
}

/** Splits records into batches as an event source would: consecutive records, each partition's order kept. */
export function inOrderBatches(records: readonly SourceRecord[], size: number): SourceRecord[][] {
  const batches: SourceRecord[][] = [];
  for (let index = 0; index < records.length; index += size) batches.push(records.slice(index, index + size));
  return batches;
}

/** A redelivery in the worst order: every record shuffled, then batched. */
export function shuffledBatches(records: readonly SourceRecord[], size: number, seed: number): SourceRecord[][] {
  let state = seed;
  const random = () => {
    state = (state * 48_271) % 2_147_483_647;
    return state / 2_147_483_647;
  };
  const shuffled = [...records];
  for (let index = shuffled.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [shuffled[index], shuffled[other]] = [shuffled[other]!, shuffled[index]!];
  }
  return inOrderBatches(shuffled, size);
}
