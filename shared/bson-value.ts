/**
 * What bson stamps on its value classes (ObjectId, Int32, Long, ...): a plain document never carries it, even one with a
 * field named `_bsontype`, which MongoDB stores like any other (other drivers, or an application that once serialized
 * old bson objects as JSON, write such documents).
 */
const BSON_VALUE = Symbol.for('@@mdb.bson.version');

/** The BSON type of a bson value object ("ObjectId", "Int32", ...), or undefined for anything else, plain documents included. */
export function bsonTypeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || (value as { [BSON_VALUE]?: unknown })[BSON_VALUE] === undefined) return undefined;
  const type = (value as { _bsontype?: unknown })._bsontype;
  return typeof type === 'string' ? type : undefined;
}
