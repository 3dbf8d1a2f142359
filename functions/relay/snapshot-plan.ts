import { BSON, type Document } from 'mongodb';

/**
 * How a snapshot walks one collection in `_id` index order. `{ _id: { $gt: x } }` only matches `_id`s of x's canonical
 * BSON type (query type bracketing), so one range query cannot cross from numbers to strings to ObjectIds. The walk is
 * a fixed list of type brackets in the index's own order; inside a bracket, each chunk continues with `$gt` the last
 * `_id` copied. Every query is an ordinary indexed range or `$type` scan sorted by `_id`, which a real replica set and
 * the local stand-in both answer (the stand-in ignores `min()`, so `min()` with the `_id_` hint is not an option).
 */
export interface TypeBracket {
  /** Stable name, stored in the control item while a snapshot is in this bracket. */
  readonly name: string;
  /** Matches every `_id` of the bracket; used for the first chunk. */
  readonly first: Document;
}

/**
 * Every BSON type an `_id` may hold, in MongoDB's canonical sort order (arrays, regular expressions and undefined are
 * not allowed as `_id`). Strings start from `$gte: ""` rather than `$type: "string"` so the bracket also holds symbols,
 * which sort with strings. DBPointer (deprecated since MongoDB 1.x, not writable by current drivers) has no bracket.
 */
export const TYPE_BRACKETS: readonly TypeBracket[] = [
  { name: 'minKey', first: { $type: 'minKey' } },
  { name: 'null', first: { $type: 'null' } },
  { name: 'number', first: { $type: 'number' } },
  { name: 'string', first: { $gte: '' } },
  { name: 'object', first: { $gte: {} } },
  { name: 'binData', first: { $type: 'binData' } },
  { name: 'objectId', first: { $type: 'objectId' } },
  { name: 'bool', first: { $type: 'bool' } },
  { name: 'date', first: { $type: 'date' } },
  { name: 'timestamp', first: { $type: 'timestamp' } },
  { name: 'javascript', first: { $type: 'javascript' } },
  { name: 'javascriptWithScope', first: { $type: 'javascriptWithScope' } },
  { name: 'maxKey', first: { $type: 'maxKey' } },
];

/** Where a collection's walk stands: the bracket, and the last `_id` copied in it (canonical Extended JSON). */
export interface KeyCursor {
  readonly bracket: number;
  readonly after?: string;
}

export const START: KeyCursor = { bracket: 0 };

export const isFinished = (cursor: KeyCursor) => cursor.bracket >= TYPE_BRACKETS.length;

const parseKey = (text: string): unknown => BSON.EJSON.parse(text, { relaxed: false });
export const keyText = (id: unknown): string => BSON.EJSON.stringify(id as Document, { relaxed: false });

/** The `_id` condition of the next chunk; `documents` (the stream's document filter) is ANDed with it. */
export function chunkFilter(cursor: KeyCursor, documents?: Document): Document {
  const bracket = TYPE_BRACKETS[cursor.bracket];
  if (!bracket) throw new Error(`bracket ${cursor.bracket} is past the end of the plan`);
  // $gt alone stays inside the last key's bracket: that is what type bracketing guarantees.
  const idCondition = cursor.after === undefined ? bracket.first : { $gt: parseKey(cursor.after) };
  const byKey = { _id: idCondition };
  return documents ? { $and: [byKey, documents] } : byKey;
}

/**
 * The cursor after a chunk: further along the same bracket when the chunk came back full (there may be more), the next
 * bracket when it came back short (the bracket is exhausted). A short chunk can also be a reply the server cut at its
 * size limit, so "short" is judged against what was asked for by the caller, who passes `full`.
 */
export function advance(cursor: KeyCursor, lastId: unknown, full: boolean): KeyCursor {
  if (full && lastId !== undefined) return { bracket: cursor.bracket, after: keyText(lastId) };
  return { bracket: cursor.bracket + 1 };
}
