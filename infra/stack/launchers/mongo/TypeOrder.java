import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.LegacyUUID;
import de.bwaldvogel.mongo.bson.MaxKey;
import de.bwaldvogel.mongo.bson.MinKey;
import de.bwaldvogel.mongo.bson.ObjectId;
import java.time.Instant;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Where a value's type sorts among the others in mongo-java-server's ValueComparator (MinKey, null, numbers, strings,
 * documents, arrays, generic binaries, legacy UUIDs, UUIDs, ObjectIds, booleans, dates, timestamps, regular
 * expressions, MaxKey: MongoDB's BSON comparison order, except that the two UUID kinds follow the other binaries). The
 * comparator itself only compares two values; the `_id` index needs the rank to keep one ordered part per type and to
 * go straight to the parts a `$type` condition can match.
 */
final class TypeOrder {
    /** Values ValueComparator cannot sort (it throws); an index holding one leaves sorting to the backend's scan. */
    static final int UNSORTABLE = -1;
    static final int RANKS = 15;

    private static final List<Class<?>> AFTER_NULL = List.of(Number.class, String.class, Document.class, Collection.class,
        BinData.class, LegacyUUID.class, UUID.class, ObjectId.class, Boolean.class, Instant.class, BsonTimestamp.class,
        BsonRegularExpression.class, MaxKey.class);

    /** `$type` aliases and codes, by the ranks whose values they can match. */
    private static final Map<Object, int[]> TYPES = Map.ofEntries(
        Map.entry("minKey", new int[] {0}), Map.entry(-1, new int[] {0}),
        Map.entry("null", new int[] {1}), Map.entry(10, new int[] {1}),
        Map.entry("number", new int[] {2}), Map.entry("double", new int[] {2}), Map.entry(1, new int[] {2}),
        Map.entry("int", new int[] {2}), Map.entry(16, new int[] {2}), Map.entry("long", new int[] {2}),
        Map.entry(18, new int[] {2}), Map.entry("decimal", new int[] {2}), Map.entry(19, new int[] {2}),
        Map.entry("string", new int[] {3}), Map.entry(2, new int[] {3}),
        Map.entry("object", new int[] {4}), Map.entry(3, new int[] {4}),
        Map.entry("binData", new int[] {6, 7, 8}), Map.entry(5, new int[] {6, 7, 8}),
        Map.entry("objectId", new int[] {9}), Map.entry(7, new int[] {9}),
        Map.entry("bool", new int[] {10}), Map.entry(8, new int[] {10}),
        Map.entry("date", new int[] {11}), Map.entry(9, new int[] {11}),
        Map.entry("timestamp", new int[] {12}), Map.entry(17, new int[] {12}),
        Map.entry("regex", new int[] {13}), Map.entry(11, new int[] {13}),
        Map.entry("maxKey", new int[] {14}), Map.entry(127, new int[] {14}));

    private TypeOrder() {
    }

    static int rank(Object value) {
        if (value instanceof MinKey) return 0;
        if (Missing.isNullOrMissing(value)) return 1;
        for (int index = 0; index < AFTER_NULL.size(); index++) {
            if (AFTER_NULL.get(index).isInstance(value)) return index + 2;
        }
        return UNSORTABLE;
    }

    /** The ranks a `$type` operand (an alias, a code, or a list of them) can match; null when it names one not listed. */
    static BitSet ranksOf(Object typeOperand) {
        BitSet ranks = new BitSet(RANKS);
        for (Object type : typeOperand instanceof Collection<?> list ? list : List.of(typeOperand)) {
            int[] matched = TYPES.get(type instanceof Number number ? (Object) number.intValue() : type);
            if (matched == null) return null;
            for (int rank : matched) ranks.set(rank);
        }
        return ranks;
    }
}
