import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to one host only. DynamoDB Local has no bind-address option and listens on every
 * interface, so this launcher builds the server from the usual command-line arguments, then sets the host on its
 * Jetty connector before starting it. Usage: java -cp <jars> DynamoDbLocalLoopback.java <host> <DynamoDB Local args...>
 */
public final class DynamoDbLocalLoopback {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: DynamoDbLocalLoopback <host> [DynamoDB Local arguments]");
            System.exit(2);
        }
        String host = args[0];
        String[] localArgs = java.util.Arrays.copyOfRange(args, 1, args.length);
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(localArgs);
        Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
        serverField.setAccessible(true);
        Server jetty = (Server) serverField.get(proxy);
        int bound = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (connector instanceof ServerConnector serverConnector) {
                serverConnector.setHost(host);
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("DynamoDB Local exposed no ServerConnector; cannot restrict it to " + host);
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on " + host + " (" + bound + " connector(s))");
        proxy.join();
    }
}
