import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.backend.memory.MemoryCollection;
import de.bwaldvogel.mongo.backend.memory.MemoryDatabase;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.oplog.NoopOplog;
import de.bwaldvogel.mongo.oplog.Oplog;
import de.bwaldvogel.mongo.wire.BsonConstants;
import de.bwaldvogel.mongo.wire.MongoWireProtocolHandler;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * mongo-java-server's memory backend with MongoDB's change streams in place of the library's own: every change is
 * logged by the collections themselves (see RecordingCollection) into a bounded ChangeLog, and this class answers the
 * commands whose MongoDB behaviour the product relies on: the hello handshake of a one-member replica set, aggregate
 * with $changeStream on a collection, a database or the deployment, killCursors, drop/rename/dropDatabase events,
 * pre- and post-image options, and operationTime/$clusterTime on every reply. getMore on a change stream is answered
 * by ChangeStreamGetMore, which waits without blocking the connection's thread.
 */
final class StandInBackend extends MemoryBackend {
    /** Idle change stream cursors are closed after MongoDB's default cursor timeout. */
    private static final long CURSOR_TIMEOUT_MILLIS = 10 * 60 * 1000;
    private static final Document SIGNATURE = new Document("hash", new BinData(new byte[20])).append("keyId", 0L);

    private final ChangeLog changes;
    private final String replicaSetName;
    private final String me;
    private final Map<String, Boolean> imagesEnabled = new ConcurrentHashMap<>();
    private final Map<Long, ChangeStreamCursor> streams = new ConcurrentHashMap<>();
    private final AtomicLong cursorIds = new AtomicLong(7_000_000_000L);
    private final MongoVersion version;

    StandInBackend(ChangeLog changes, MongoVersion version, String replicaSetName, String me) {
        this.changes = changes;
        this.version = version;
        this.replicaSetName = replicaSetName;
        this.me = me;
        version(version);
    }

    ChangeLog changes() {
        return changes;
    }

    boolean imagesEnabled(String namespace) {
        return imagesEnabled.getOrDefault(namespace, Boolean.FALSE);
    }

    ChangeStreamCursor stream(long cursorId) {
        return streams.get(cursorId);
    }

    void closeStream(long cursorId) {
        streams.remove(cursorId);
    }

    @Override
    public MemoryDatabase openOrCreateDatabase(String databaseName) {
        StandInBackend backend = this;
        return new MemoryDatabase(databaseName, getCursorRegistry()) {
            @Override
            protected MemoryCollection openOrCreateCollection(String collectionName, CollectionOptions options) {
                return new RecordingCollection(this, collectionName, options, cursorRegistry, backend);
            }
        };
    }

    /** Data changes are logged by the collections; only collection drops reach MongoDB's oplog through here. */
    @Override
    protected Oplog createOplog() {
        return new Oplog() {
            @Override
            public void handleInsert(String namespace, List<Document> documents) {
            }

            @Override
            public void handleUpdate(String namespace, Document selector, Document query, List<Object> modifiedIds) {
            }

            @Override
            public void handleDelete(String namespace, Document query, List<Object> deletedIds) {
            }

            @Override
            public void handleDropCollection(String namespace) {
                int dot = namespace.indexOf('.');
                String collection = namespace.substring(dot + 1);
                imagesEnabled.remove(namespace);
                if (!collection.startsWith("system.")) {
                    changes.append("drop", namespace.substring(0, dot), collection, null, null, null, null, null, null);
                }
            }

            @Override
            public Cursor createCursor(Document changeStreamDocument, String namespace, Aggregation aggregation) {
                throw new IllegalStateException("change streams are opened by StandInBackend");
            }
        };
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        rejectTransactions(command, query);
        // Session and gossip fields: the stand-in keeps no per-session state and signs nothing.
        query.remove("lsid");
        query.remove("txnNumber");
        query.remove("$clusterTime");
        Object readConcern = query.get("readConcern");
        if (readConcern instanceof Document
            && ("snapshot".equals(((Document) readConcern).get("level")) || ((Document) readConcern).containsKey("atClusterTime"))) {
            // Reads here always see the latest data; answering a point-in-time read with it would be silently wrong.
            throw new MongoServerError(20, "IllegalOperation",
                "the local MongoDB stand-in does not support snapshot reads (readConcern level snapshot or atClusterTime)");
        }
        if (readConcern instanceof Document && ((Document) readConcern).get("afterClusterTime") instanceof BsonTimestamp) {
            // Every write is applied before it is acknowledged, so a later cluster time only moves the clock on.
            changes.advanceTo(((BsonTimestamp) ((Document) readConcern).get("afterClusterTime")).getValue());
        }
        Document reply = dispatch(channel, databaseName, command, query);
        return withClusterTime(reply);
    }

    Document withClusterTime(Document reply) {
        BsonTimestamp operationTime = ChangeLog.bson(changes.lastTs());
        reply.put("operationTime", operationTime);
        reply.put("$clusterTime", new Document("clusterTime", operationTime).append("signature", SIGNATURE));
        return reply;
    }

    private static void rejectTransactions(String command, Document query) {
        if (query.containsKey("startTransaction") || query.containsKey("autocommit")
            || command.equals("commitTransaction") || command.equals("abortTransaction")) {
            throw new MongoServerError(20, "IllegalOperation", "the local MongoDB stand-in does not support transactions");
        }
    }

    private Document dispatch(Channel channel, String databaseName, String command, Document query) {
        switch (command) {
            case "hello":
            case "isMaster":
            case "ismaster":
                return hello(command.equals("hello"));
            case "aggregate":
                if (isChangeStream(query)) return openChangeStream(databaseName, query);
                break;
            case "killCursors":
                return killCursors(channel, databaseName, command, query);
            case "dropDatabase":
                return dropDatabase(channel, databaseName, command, query);
            case "renameCollection":
                return renameCollection(channel, databaseName, command, query);
            case "create":
                return create(channel, databaseName, command, query);
            case "collMod":
                return collMod(databaseName, query);
            default:
                break;
        }
        return super.handleCommand(channel, databaseName, command, query);
    }

    private Document hello(boolean helloCommand) {
        Document reply = new Document(helloCommand ? "isWritablePrimary" : "ismaster", Boolean.TRUE)
            .append("helloOk", Boolean.TRUE)
            .append("setName", replicaSetName)
            .append("setVersion", 1)
            .append("hosts", List.of(me))
            .append("primary", me)
            .append("me", me)
            .append("secondary", Boolean.FALSE)
            .append("maxBsonObjectSize", BsonConstants.MAX_BSON_OBJECT_SIZE)
            .append("maxMessageSizeBytes", MongoWireProtocolHandler.MAX_MESSAGE_SIZE_BYTES)
            .append("maxWriteBatchSize", MongoWireProtocolHandler.MAX_WRITE_BATCH_SIZE)
            .append("localTime", Instant.now())
            .append("logicalSessionTimeoutMinutes", 30)
            .append("minWireVersion", 0)
            .append("maxWireVersion", version.getWireVersion())
            .append("readOnly", Boolean.FALSE)
            .append("lastWrite", new Document("opTime", new Document("ts", ChangeLog.bson(changes.lastTs())).append("t", 1L))
                .append("lastWriteDate", Instant.now()));
        reply.append("ok", 1.0);
        return reply;
    }

    private static boolean isChangeStream(Document query) {
        Object pipeline = query.get("pipeline");
        return pipeline instanceof List && !((List<?>) pipeline).isEmpty()
            && ((List<?>) pipeline).get(0) instanceof Document
            && ((Document) ((List<?>) pipeline).get(0)).containsKey("$changeStream");
    }

    private Document openChangeStream(String databaseName, Document query) {
        reapIdleStreams();
        List<Document> pipeline = Aggregation.parse(query.get("pipeline"));
        Document options = (Document) pipeline.get(0).get("$changeStream");
        Object target = query.get("aggregate");
        boolean wholeDeployment = Boolean.TRUE.equals(options.get("allChangesForCluster"));
        String db = null;
        String coll = null;
        if (wholeDeployment) {
            if (!databaseName.equals("admin")) {
                throw new MongoServerError(73, "InvalidNamespace",
                    "$changeStream may only be run on admin when 'allChangesForCluster' is true");
            }
        } else {
            if (databaseName.equals("admin") || databaseName.equals("local") || databaseName.equals("config")) {
                throw new MongoServerError(73, "InvalidNamespace", "$changeStream may not be opened on the internal " + databaseName + " database");
            }
            db = databaseName;
            coll = target instanceof String ? (String) target : null;
        }
        List<Document> rest = pipeline.subList(1, pipeline.size());
        Aggregation stages = rest.isEmpty() ? null
            : Aggregation.fromPipeline(rest, this::resolveDatabase, resolveDatabase(db == null ? "admin" : db), null, NoopOplog.get());

        long afterTs;
        ResumeToken resumedAt = null;
        // Resuming after an event needs that event still in the oplog, as MongoDB checks; a time needs what follows it.
        boolean needsTokenEntry = false;
        if (options.get("resumeAfter") != null) {
            resumedAt = ResumeToken.parse(options.get("resumeAfter"));
            if (resumedAt.kind == ResumeToken.INVALIDATE) {
                throw new MongoServerError(260, "InvalidResumeToken",
                    "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.");
            }
            afterTs = resumedAt.deliversAfter();
            needsTokenEntry = resumedAt.kind != ResumeToken.HIGH_WATER_MARK;
        } else if (options.get("startAfter") != null) {
            ResumeToken startAfter = ResumeToken.parse(options.get("startAfter"));
            afterTs = startAfter.deliversAfter();
            needsTokenEntry = startAfter.kind != ResumeToken.HIGH_WATER_MARK;
        } else if (options.get("startAtOperationTime") instanceof BsonTimestamp) {
            afterTs = ((BsonTimestamp) options.get("startAtOperationTime")).getValue() - 1;
        } else {
            afterTs = changes.lastTs();
        }
        if (changes.lostAfter(needsTokenEntry ? afterTs - 1 : afterTs)) throw ChangeStreamCursor.historyLost();

        String fullDocument = String.valueOf(options.getOrDefault("fullDocument", "default"));
        String beforeChange = String.valueOf(options.getOrDefault("fullDocumentBeforeChange", "off"));
        ChangeStreamCursor cursor = new ChangeStreamCursor(cursorIds.incrementAndGet(), this, db, coll, stages,
            fullDocument, beforeChange, afterTs);
        if (resumedAt != null && resumedAt.kind == ResumeToken.EVENT) cursor.invalidateFirstIfResumedAt(changes.at(resumedAt.ts));
        streams.put(cursor.id, cursor);

        Document cursorOptions = (Document) query.getOrDefault("cursor", new Document());
        int batchSize = ((Number) cursorOptions.getOrDefault("batchSize", ChangeStreamGetMore.FIRST_BATCH_DEFAULT)).intValue();
        List<Document> firstBatch = cursor.next(batchSize);
        if (cursor.finished()) streams.remove(cursor.id);
        return cursorReply("firstBatch", cursor, firstBatch);
    }

    static Document cursorReply(String batchField, ChangeStreamCursor cursor, List<Document> batch) {
        Document body = new Document(batchField, batch)
            .append("postBatchResumeToken", cursor.postBatchResumeToken())
            .append("id", cursor.finished() ? 0L : cursor.id)
            .append("ns", cursor.replyNamespace);
        return new Document("cursor", body).append("ok", 1.0);
    }

    private void reapIdleStreams() {
        long cutoff = System.currentTimeMillis() - CURSOR_TIMEOUT_MILLIS;
        streams.values().removeIf(cursor -> {
            if (cursor.lastUsedMillis >= cutoff) return false;
            cursor.kill();
            return true;
        });
    }

    private Document killCursors(Channel channel, String databaseName, String command, Document query) {
        List<Object> ids = new ArrayList<>((List<?>) query.get("cursors"));
        List<Object> killed = new ArrayList<>();
        for (Iterator<Object> iterator = ids.iterator(); iterator.hasNext(); ) {
            Object id = iterator.next();
            ChangeStreamCursor stream = id instanceof Number ? streams.remove(((Number) id).longValue()) : null;
            if (stream != null) {
                stream.kill();
                killed.add(id);
                iterator.remove();
            }
        }
        if (ids.isEmpty()) {
            return new Document("cursorsKilled", killed).append("cursorsNotFound", List.of()).append("ok", 1.0);
        }
        query.put("cursors", ids);
        Document reply = super.handleCommand(channel, databaseName, command, query);
        List<Object> all = new ArrayList<>(killed);
        all.addAll((List<?>) reply.get("cursorsKilled"));
        reply.put("cursorsKilled", all);
        return reply;
    }

    private Document dropDatabase(Channel channel, String databaseName, String command, Document query) {
        boolean existed = listDatabaseNames().contains(databaseName);
        Document reply = super.handleCommand(channel, databaseName, command, query);
        if (existed) changes.append("dropDatabase", databaseName, null, null, null, null, null, null, null);
        return reply;
    }

    private Document renameCollection(Channel channel, String databaseName, String command, Document query) {
        String from = String.valueOf(query.get(command));
        String to = String.valueOf(query.get("to"));
        Document reply = super.handleCommand(channel, databaseName, command, query);
        if (!from.equals(to)) {
            int fromDot = from.indexOf('.');
            int toDot = to.indexOf('.');
            Boolean images = imagesEnabled.remove(from);
            if (images != null) imagesEnabled.put(to, images);
            changes.append("rename", from.substring(0, fromDot), from.substring(fromDot + 1), null, null, null, null,
                to.substring(0, toDot), to.substring(toDot + 1));
        }
        return reply;
    }

    private Document create(Channel channel, String databaseName, String command, Document query) {
        Object images = query.remove("changeStreamPreAndPostImages");
        Document reply = super.handleCommand(channel, databaseName, command, query);
        if (images instanceof Document) {
            imagesEnabled.put(databaseName + "." + query.get(command), Boolean.TRUE.equals(((Document) images).get("enabled")));
        }
        return reply;
    }

    private Document collMod(String databaseName, Document query) {
        String namespace = databaseName + "." + query.get("collMod");
        MongoCollection<?> collection = listDatabaseNames().contains(databaseName)
            ? resolveDatabase(databaseName).resolveCollection(String.valueOf(query.get("collMod")), false) : null;
        if (collection == null) throw new MongoServerError(26, "NamespaceNotFound", "ns does not exist: " + namespace);
        for (String option : query.keySet()) {
            if (option.equals("collMod") || option.startsWith("$") || option.equals("writeConcern")) continue;
            if (!option.equals("changeStreamPreAndPostImages")) {
                throw new MongoServerError(72, "InvalidOptions", "the local MongoDB stand-in's collMod supports only changeStreamPreAndPostImages, not " + option);
            }
        }
        Object images = query.get("changeStreamPreAndPostImages");
        if (images instanceof Document) imagesEnabled.put(namespace, Boolean.TRUE.equals(((Document) images).get("enabled")));
        return new Document("ok", 1.0);
    }

    /** The document's current version for updateLookup, or null when it (or its collection) is gone. */
    Document lookUp(String db, String coll, Object id) {
        if (!listDatabaseNames().contains(db)) return null;
        MongoDatabase database = resolveDatabase(db);
        MongoCollection<?> collection = database.resolveCollection(coll, false);
        if (collection == null) return null;
        for (Document document : collection.handleQuery(new Document("_id", id), 0, 1)) return document.cloneDeeply();
        return null;
    }
}
