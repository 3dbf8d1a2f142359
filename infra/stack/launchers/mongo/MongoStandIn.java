import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.wire.MongoExceptionHandler;
import de.bwaldvogel.mongo.wire.MongoWireMessageEncoder;
import de.bwaldvogel.mongo.wire.MongoWireProtocolHandler;
import de.bwaldvogel.mongo.wire.MongoWireReplyEncoder;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Runs mongo-java-server (in-memory backend) as the local stand-in for MongoDB where no mongod binary can be had, with
 * change streams that follow MongoDB's (see StandInBackend). Usage:
 * java -cp <jars>:<classes> MongoStandIn <host> <port> [--oplog-entries N]
 *
 * The server is bootstrapped here rather than through MongoServer so that the request handler can answer a change
 * stream's getMore later (StandInHandler) and binaries of every subtype pass through (BinarySubtypes).
 */
public final class MongoStandIn {
    /** Change streams here follow MongoDB 6.0 (wallTime, pre- and post-images); the Node.js driver 7.x needs wire >= 9. */
    private static final MongoVersion DECLARED_VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(6, 0, 0);
        }

        @Override
        public int getWireVersion() {
            return 17;
        }
    };
    private static final int DEFAULT_OPLOG_ENTRIES = 200_000;

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2 && !(args.length == 4 && args[2].equals("--oplog-entries"))) {
            System.err.println("usage: MongoStandIn <host> <port> [--oplog-entries N]");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int oplogEntries = args.length == 4 ? Integer.parseInt(args[3]) : DEFAULT_OPLOG_ENTRIES;
        if (oplogEntries < 1) {
            System.err.println("--oplog-entries must be at least 1, got " + oplogEntries);
            System.exit(2);
        }
        StandInBackend backend = new StandInBackend(new ChangeLog(oplogEntries), DECLARED_VERSION, "rs0", host + ":" + port);
        backend.enableOplog();

        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup();
        ChannelGroup channels = new DefaultChannelGroup("mongodb-channels", workers.next());
        Channel server = new ServerBootstrap()
            .group(boss, workers)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_BACKLOG, 100)
            .childOption(ChannelOption.TCP_NODELAY, Boolean.TRUE)
            .childHandler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel channel) {
                    channel.pipeline()
                        .addLast(new LengthFieldBasedFrameDecoder(ByteOrder.LITTLE_ENDIAN, MongoWireProtocolHandler.MAX_MESSAGE_SIZE_BYTES, 0, 4, -4, 0, true))
                        .addLast(new BinarySubtypes())
                        .addLast(new MongoWireReplyEncoder())
                        .addLast(new MongoWireMessageEncoder())
                        .addLast(new MongoWireProtocolHandler())
                        .addLast(new StandInHandler(backend, channels))
                        .addLast(new MongoExceptionHandler());
                }
            })
            .bind(host, port).sync().channel();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close().syncUninterruptibly();
            channels.close().syncUninterruptibly();
            boss.shutdownGracefully();
            workers.shutdownGracefully();
        }));
        System.out.println("mongo-java-server stand-in listening on " + host + ":" + port
            + " (declares MongoDB 6.0.0, wire 17, replica set rs0; change log of " + oplogEntries + " entries)");
    }
}
