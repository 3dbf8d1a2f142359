import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Where a walk of the `_id` index may start for a query: the tightest `$gt`/`$gte` on `_id` (or `$lt`/`$lte` for a
 * descending walk) found at the top level of the filter or in its top-level `$and`, as MongoDB's planner derives index
 * bounds from them. Every document the query can match lies past the bound, so starting there skips only non-matches;
 * the query is still applied to each document walked, so conditions not read here (`$type`, `$or`, the stream's own
 * filter) are honoured. Values with their own matching rules (null, arrays, regular expressions) give no bound.
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
