import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * One open change stream: its scope (a collection, a database, or every database but admin/local/config), its position
 * in the change log, and how it renders entries into change events as MongoDB's change events reference describes them.
 */
final class ChangeStreamCursor {
    private static final Set<String> INTERNAL_DATABASES = Set.of("admin", "local", "config");
    private static final int SCAN_CHUNK = 512;

    final long id;
    final String replyNamespace;
    private final StandInBackend backend;
    private final String db;
    private final String coll;
    private final Aggregation stages;
    private final String fullDocument;
    private final String fullDocumentBeforeChange;
    private long afterTs;
    private Long pendingInvalidate;
    private boolean finished;
    private Document postBatchResumeToken;
    volatile long lastUsedMillis = System.currentTimeMillis();
    /** Killed (killCursors, or reaped when idle): a getMore waiting on it ends with CursorKilled, as on MongoDB. */
    private volatile boolean killed;
    private final List<Runnable> onKill = new java.util.concurrent.CopyOnWriteArrayList<>();

    ChangeStreamCursor(long id, StandInBackend backend, String db, String coll, Aggregation stages, String fullDocument,
                       String fullDocumentBeforeChange, long afterTs) {
        this.id = id;
        this.backend = backend;
        this.db = db;
        this.coll = coll;
        this.stages = stages;
        this.fullDocument = fullDocument;
        this.fullDocumentBeforeChange = fullDocumentBeforeChange;
        this.afterTs = afterTs;
        this.replyNamespace = db == null ? "admin.$cmd.aggregate" : coll == null ? db + ".$cmd.aggregate" : db + "." + coll;
    }

    long afterTs() {
        return afterTs;
    }

    boolean killed() {
        return killed;
    }

    /** Marks the cursor killed and wakes every getMore waiting on it. */
    void kill() {
        killed = true;
        for (Runnable wake : onKill) wake.run();
    }

    void whenKilled(Runnable wake) {
        onKill.add(wake);
        if (killed) wake.run();
    }

    void stopWaiting(Runnable wake) {
        onKill.remove(wake);
    }

    boolean finished() {
        return finished;
    }

    Document postBatchResumeToken() {
        return postBatchResumeToken;
    }

    /** Resuming right after an event that invalidated this stream delivers the invalidate first, as MongoDB does. */
    void invalidateFirstIfResumedAt(ChangeLog.Entry entry) {
        if (entry != null && inScope(entry) && invalidates(entry)) pendingInvalidate = entry.ts;
    }

    /** The next batch of at most max events; empty when nothing new arrived. Sets the post-batch resume token. */
    synchronized List<Document> next(int max) {
        lastUsedMillis = System.currentTimeMillis();
        List<Document> batch = new ArrayList<>();
        if (finished) return batch;
        if (pendingInvalidate != null) {
            batch.add(invalidate(pendingInvalidate));
            return batch;
        }
        while (true) {
            ChangeLog.Slice slice = backend.changes().read(afterTs, SCAN_CHUNK);
            if (slice.lost) throw historyLost();
            for (ChangeLog.Entry entry : slice.entries) {
                afterTs = entry.ts;
                if (!inScope(entry)) continue;
                Document event = render(entry);
                if (stages != null) {
                    List<Document> passed = stages.runStages(Stream.of(event));
                    event = passed.isEmpty() ? null : passed.get(0);
                }
                if (event != null) {
                    batch.add(event);
                    postBatchResumeToken = ResumeToken.of(entry.ts, ResumeToken.EVENT);
                }
                if (invalidates(entry)) {
                    batch.add(invalidate(entry.ts));
                    return batch;
                }
                if (batch.size() >= max) return batch;
            }
            if (slice.endMark != 0) {
                // Everything before the end mark has been seen: the high-water mark a quiet stream reports.
                afterTs = slice.endMark - 1;
                postBatchResumeToken = ResumeToken.of(slice.endMark, ResumeToken.HIGH_WATER_MARK);
                return batch;
            }
        }
    }

    static MongoServerError historyLost() {
        return new MongoServerError(286, "ChangeStreamHistoryLost",
            "Resume of change stream was not possible, as the resume point may no longer be in the oplog.");
    }

    private Document invalidate(long ts) {
        finished = true;
        postBatchResumeToken = ResumeToken.of(ts, ResumeToken.INVALIDATE);
        return new Document("_id", postBatchResumeToken)
            .append("operationType", "invalidate")
            .append("clusterTime", ChangeLog.bson(ts))
            .append("wallTime", Instant.now());
    }

    private boolean inScope(ChangeLog.Entry entry) {
        if (db == null) return !INTERNAL_DATABASES.contains(entry.db);
        if (!db.equals(entry.db)) return false;
        return coll == null || coll.equals(entry.coll);
    }

    /** Drop or rename ends a collection's stream; dropDatabase ends a database's; nothing ends a deployment's. */
    private boolean invalidates(ChangeLog.Entry entry) {
        if (coll != null) return entry.op.equals("drop") || entry.op.equals("rename");
        if (db != null) return entry.op.equals("dropDatabase");
        return false;
    }

    private Document render(ChangeLog.Entry entry) {
        Document event = new Document("_id", ResumeToken.of(entry.ts, ResumeToken.EVENT))
            .append("operationType", entry.op)
            .append("clusterTime", ChangeLog.bson(entry.ts))
            .append("wallTime", Instant.ofEpochMilli(entry.wallMillis));
        Document ns = new Document("db", entry.db);
        if (entry.coll != null) ns.append("coll", entry.coll);
        switch (entry.op) {
            case "insert":
            case "replace":
                event.append("fullDocument", entry.document);
                break;
            case "update":
                if (fullDocument.equals("updateLookup")) {
                    event.append("fullDocument", backend.lookUp(entry.db, entry.coll, entry.id));
                } else if (fullDocument.equals("whenAvailable")) {
                    event.append("fullDocument", entry.document);
                } else if (fullDocument.equals("required")) {
                    if (entry.document == null) throw noImage("post-image");
                    event.append("fullDocument", entry.document);
                }
                break;
            default:
                break;
        }
        event.append("ns", ns);
        if (entry.id != null) event.append("documentKey", new Document("_id", entry.id));
        if (entry.updateDescription != null) event.append("updateDescription", entry.updateDescription);
        if (entry.op.equals("rename")) event.append("to", new Document("db", entry.toDb).append("coll", entry.toColl));
        boolean changesDocument = entry.op.equals("update") || entry.op.equals("replace") || entry.op.equals("delete");
        if (changesDocument && !fullDocumentBeforeChange.equals("off")) {
            if (entry.preImage == null && fullDocumentBeforeChange.equals("required")) throw noImage("pre-image");
            event.append("fullDocumentBeforeChange", entry.preImage);
        }
        return event;
    }

    private static MongoServerError noImage(String which) {
        return new MongoServerError(47, "NoMatchingDocument", "Change stream was configured to require a " + which
            + " for all update, delete and replace events, but no " + which + " was available");
    }
}
