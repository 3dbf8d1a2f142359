import de.bwaldvogel.mongo.bson.Document;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An update event's updateDescription, computed the way MongoDB 5.0+ derives it from its delta oplog entries: changed
 * or added fields under their dotted path (descending into embedded documents and array elements), removed fields,
 * and arrays that became shorter as {field, newSize} with the surviving changed elements as "field.index".
 */
final class UpdateDescription {
    private final Document updated = new Document();
    private final List<String> removed = new ArrayList<>();
    private final List<Document> truncated = new ArrayList<>();

    static Document between(Document before, Document after) {
        UpdateDescription description = new UpdateDescription();
        description.documents("", before, after);
        return new Document("updatedFields", description.updated)
            .append("removedFields", description.removed)
            .append("truncatedArrays", description.truncated);
    }

    private void documents(String prefix, Document before, Document after) {
        for (String key : before.keySet()) {
            if (!after.containsKey(key)) removed.add(prefix + key);
        }
        for (String key : after.keySet()) {
            Object newValue = after.get(key);
            if (!before.containsKey(key)) {
                updated.put(prefix + key, newValue);
            } else {
                value(prefix + key, before.get(key), newValue);
            }
        }
    }

    private void value(String path, Object before, Object after) {
        if (Objects.equals(before, after)) return; // Java equality tells BSON types apart (1 and 1L differ)
        if (before instanceof Document && after instanceof Document) {
            documents(path + ".", (Document) before, (Document) after);
        } else if (before instanceof List && after instanceof List) {
            arrays(path, (List<?>) before, (List<?>) after);
        } else {
            updated.put(path, after);
        }
    }

    private void arrays(String path, List<?> before, List<?> after) {
        if (after.size() < before.size()) {
            truncated.add(new Document("field", path).append("newSize", after.size()));
        }
        for (int index = 0; index < after.size(); index++) {
            if (index >= before.size()) {
                updated.put(path + "." + index, after.get(index));
            } else {
                value(path + "." + index, before.get(index), after.get(index));
            }
        }
    }
}
