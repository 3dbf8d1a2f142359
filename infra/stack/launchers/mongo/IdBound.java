import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which part of the `_id` index a query can match, read from its `_id` conditions, as MongoDB's planner derives index
 * bounds from them. Where a walk may start: the tightest `$gt`/`$gte` on `_id` (or `$lt`/`$lte` for a
 * descending walk) found at the top level of the filter or in its top-level `$and`, as MongoDB's planner derives index
 * bounds from them. Every document the query can match lies past the bound, so starting there skips only non-matches;
 * and which types it may hold (`ranks`): a `$type` on `_id` matches only values of its types. The query is still
 * applied to each document walked, so conditions not read here (`$or`, `$not`, the stream's own filter) are honoured.
 * Values with their own matching rules (null, arrays, regular expressions) give no bound.
 */
record IdBound(Object id, boolean inclusive) {
    private static final String ID = "_id";

    static IdBound of(Document query, boolean ascending) {
        IdBound tightest = fromCondition(query.get(ID), ascending);
        if (query.get("$and") instanceof List<?> conjuncts) {
            for (Object conjunct : conjuncts) {
                if (conjunct instanceof Document document) {
                    tightest = tighter(tightest, fromCondition(document.get(ID), ascending), ascending);
                }
            }
        }
        return tightest;
    }

    /** The TypeOrder ranks the `$type` conditions on `_id` allow (null: any). */
    static BitSet ranks(Document query) {
        BitSet allowed = typesIn(query.get(ID));
        if (query.get("$and") instanceof List<?> conjuncts) {
            for (Object conjunct : conjuncts) {
                if (!(conjunct instanceof Document document)) continue;
                BitSet more = typesIn(document.get(ID));
                if (more == null) continue;
                if (allowed == null) {
                    allowed = more;
                } else {
                    allowed.and(more);
                }
            }
        }
        return allowed;
    }

    private static BitSet typesIn(Object condition) {
        if (!(condition instanceof Document operators) || !operators.containsKey("$type")) return null;
        return TypeOrder.ranksOf(operators.get("$type"));
    }

    private static IdBound fromCondition(Object condition, boolean ascending) {
        if (!(condition instanceof Document operators)) return null;
        IdBound exclusive = usable(operators.get(ascending ? "$gt" : "$lt"), false);
        IdBound inclusive = usable(operators.get(ascending ? "$gte" : "$lte"), true);
        return tighter(exclusive, inclusive, ascending);
    }

    private static IdBound usable(Object value, boolean inclusive) {
        if (value == null || value instanceof Collection || value instanceof Pattern || value instanceof BsonRegularExpression
            || Missing.isNullOrMissing(value)) {
            return null;
        }
        return new IdBound(value, inclusive);
    }

    private static IdBound tighter(IdBound a, IdBound b, boolean ascending) {
        if (a == null) return b;
        if (b == null) return a;
        int cmp = ValueComparator.asc().compare(a.id, b.id);
        if (cmp == 0) return a.inclusive ? b : a;
        return (cmp > 0) == ascending ? a : b;
    }
}
