import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A memory collection that logs each document change as it commits, with what MongoDB's change events carry: inserts
 * only once the document is stored (a duplicate-key rejection logs nothing), updates with their update description or
 * as replacements, deletes, and pre-/post-images where the collection enables them. Writes that go through
 * findAndModify are logged the same way, since they pass through the same per-document methods.
 *
 * It also keeps an ordered `_id` index (IdIndex) beside the backend's document list, maintained where a position is
 * filled or emptied (an update never moves a document or changes its `_id`), and answers queries sorted by `_id` alone
 * by walking it, as MongoDB does, instead of the backend's filter-then-sort of every document.
 */
final class RecordingCollection extends MemoryCollection {
    /** The update specification being applied on this thread: it tells a replacement from an operator update. */
    private static final ThreadLocal<Object> CURRENT_UPDATE = new ThreadLocal<>();

    private final StandInBackend backend;
    private final IdIndex idIndex = new IdIndex();

    RecordingCollection(MongoDatabase database, String name, CollectionOptions options, CursorRegistry cursors,
                        StandInBackend backend) {
        super(database, name, options, cursors);
        this.backend = backend;
    }

    private boolean recorded() {
        return !getCollectionName().startsWith("system.");
    }

    @Override
    public synchronized void addDocument(Document document) {
        super.addDocument(document);
        if (recorded()) {
            backend.changes().append("insert", getDatabaseName(), getCollectionName(), document.get("_id"),
                document.cloneDeeply(), null, null, null, null);
        }
    }

    @Override
    protected Integer addDocumentInternal(Document document) {
        Integer position = super.addDocumentInternal(document);
        idIndex.add(document.get("_id"), position);
        return position;
    }

    @Override
    protected void removeDocument(Integer position) {
        idIndex.remove(getDocument(position).get("_id"), position);
        super.removeDocument(position);
    }

    /**
     * A query sorted by `{_id: 1}` or `{_id: -1}` alone reads the `_id` index from the bound and in the types its filter
     * gives (IdBound), applies the whole filter to each document in turn and stops at the limit, so a chunk costs
     * O(log n + chunk) when its matches are dense, as on MongoDB. The answer is the scan's: same filter, same order
     * (IdIndex), then skip and limit. Any other sort, system collections (whose documents may have no `_id`) and a collection holding an `_id`
     * the backend cannot sort (its scan sorts only what the filter kept, so it may still answer) take the scan.
     */
    @Override
    protected QueryResult matchDocuments(Document query, Document orderBy, int numberToSkip, int limit, int batchSize,
                                         Document fieldSelector) {
        Boolean ascending = idOnlyDirection(orderBy);
        if (ascending == null || !recorded() || !idIndex.sortable()) {
            return super.matchDocuments(query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
        }
        Spliterator<Integer> positions = Spliterators.spliteratorUnknownSize(
            idIndex.positions(ascending, IdBound.of(query, ascending), IdBound.ranks(query)), Spliterator.ORDERED);
        Stream<Document> inIdOrder = StreamSupport.stream(positions, false).map(this::getDocument);
        // No comparator: the documents already come in the requested order.
        return matchDocumentsFromStream(query, inIdOrder, numberToSkip, limit, batchSize, null, fieldSelector);
    }

    /** true for `{_id: 1}`, false for `{_id: -1}`, null for any other sort. */
    private static Boolean idOnlyDirection(Document orderBy) {
        if (orderBy == null || orderBy.size() != 1 || !(orderBy.get("_id") instanceof Number direction)) return null;
        if (direction.intValue() == 1) return Boolean.TRUE;
        if (direction.intValue() == -1) return Boolean.FALSE;
        return null;
    }

    @Override
    public synchronized void removeDocument(Document document) {
        super.removeDocument(document);
        if (recorded()) {
            Document preImage = backend.imagesEnabled(getFullName()) ? document.cloneDeeply() : null;
            backend.changes().append("delete", getDatabaseName(), getCollectionName(), document.get("_id"), null, null,
                preImage, null, null);
        }
    }

    @Override
    public synchronized Document updateDocuments(Document selector, Document update, ArrayFilters arrayFilters,
                                                 boolean isMulti, boolean isUpsert, Oplog oplog) {
        CURRENT_UPDATE.set(update);
        try {
            return super.updateDocuments(selector, update, arrayFilters, isMulti, isUpsert, oplog);
        } finally {
            CURRENT_UPDATE.remove();
        }
    }

    @Override
    public synchronized Document findAndModify(Document query) {
        CURRENT_UPDATE.set(query.get("update"));
        try {
            return super.findAndModify(query);
        } finally {
            CURRENT_UPDATE.remove();
        }
    }

    /** Called by the collection for each document an update actually changed (no-op updates log nothing, as in MongoDB). */
    @Override
    protected void handleUpdate(Integer position, Document oldDocument, Document newDocument) {
        super.handleUpdate(position, oldDocument, newDocument);
        if (!recorded()) return;
        boolean images = backend.imagesEnabled(getFullName());
        Object id = newDocument.get("_id");
        if (isReplacement(CURRENT_UPDATE.get())) {
            backend.changes().append("replace", getDatabaseName(), getCollectionName(), id, newDocument.cloneDeeply(),
                null, images ? oldDocument : null, null, null);
        } else {
            backend.changes().append("update", getDatabaseName(), getCollectionName(), id,
                images ? newDocument.cloneDeeply() : null, UpdateDescription.between(oldDocument, newDocument),
                images ? oldDocument : null, null, null);
        }
    }

    private static boolean isReplacement(Object update) {
        if (!(update instanceof Document)) return false;
        for (String key : ((Document) update).keySet()) {
            if (key.startsWith("$")) return false;
        }
        return true;
    }
}
