import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
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
        MongoBackend backend = new MemoryBackend().version(DECLARED_VERSION);
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongo-java-server listening on " + host + ":" + port + " (declared MongoDB 4.4.0, wire 9)");
    }
}
