import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;

/**
 * A memory collection that logs each document change as it commits, with what MongoDB's change events carry: inserts
 * only once the document is stored (a duplicate-key rejection logs nothing), updates with their update description or
 * as replacements, deletes, and pre-/post-images where the collection enables them. Writes that go through
 * findAndModify are logged the same way, since they pass through the same per-document methods.
 */
final class RecordingCollection extends MemoryCollection {
    /** The update specification being applied on this thread: it tells a replacement from an operator update. */
    private static final ThreadLocal<Object> CURRENT_UPDATE = new ThreadLocal<>();

    private final StandInBackend backend;

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
