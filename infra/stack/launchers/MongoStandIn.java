import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.List;

/**
 * Runs mongo-java-server (in-memory backend, oplog on) as the local stand-in for MongoDB where no mongod
 * binary can be had. Run as a single-file source program: java -cp <jars> MongoStandIn.java <host> <port>.
 */
public final class MongoStandIn {
    /** The Node.js driver 7.x refuses servers below wire version 9 (MongoDB 4.4); the stand-in speaks enough of it. */
    private static final MongoVersion DECLARED_VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: MongoStandIn <host> <port>");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        MongoBackend backend = new MemoryBackend() {
            @Override
            protected Oplog createOplog() {
                return new DocumentKeyedUpdates(super.createOplog());
            }
        }.version(DECLARED_VERSION);
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server listening on " + host + ":" + port + " (declared MongoDB 4.4.0, wire 9)");
    }

    /**
     * mongo-java-server reports an update's documentKey as the update specification ({"$set": ...}) because it keeps
     * the spec in the oplog entry's "o" field and reads the key from there. MongoDB reports {_id}. Logging each
     * modified document as an update whose "o" is its own {_id} gives MongoDB's documentKey; updateLookup still finds
     * the full document through "o2". Without it, every update of the local pipeline lands on a wrong Kafka key.
     */
    private static final class DocumentKeyedUpdates implements Oplog {
        private final Oplog oplog;

        DocumentKeyedUpdates(Oplog oplog) {
            this.oplog = oplog;
        }

        @Override
        public void handleInsert(String namespace, List<Document> documents) {
            oplog.handleInsert(namespace, documents);
        }

        @Override
        public void handleUpdate(String namespace, Document selector, Document query, List<Object> modifiedIds) {
            for (Object id : modifiedIds) {
                oplog.handleUpdate(namespace, selector, new Document("_id", id), List.of(id));
            }
        }

        @Override
        public void handleDelete(String namespace, Document query, List<Object> deletedIds) {
            oplog.handleDelete(namespace, query, deletedIds);
        }

        @Override
        public void handleDropCollection(String namespace) {
            oplog.handleDropCollection(namespace);
        }

        @Override
        public Cursor createCursor(Document changeStreamDocument, String namespace, Aggregation aggregation) {
            return oplog.createCursor(changeStreamDocument, namespace, aggregation);
        }
    }
}
