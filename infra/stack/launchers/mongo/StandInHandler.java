import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.MongoDatabaseHandler;
import de.bwaldvogel.mongo.wire.message.ClientRequest;
import de.bwaldvogel.mongo.wire.message.MessageHeader;
import de.bwaldvogel.mongo.wire.message.MongoMessage;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.group.ChannelGroup;
import java.util.concurrent.atomic.AtomicInteger;

/** mongo-java-server's request handler, except that a getMore on a change stream may be answered later. */
final class StandInHandler extends MongoDatabaseHandler {
    private static final AtomicInteger RESPONSE_IDS = new AtomicInteger(1 << 30);

    private final StandInBackend backend;

    StandInHandler(StandInBackend backend, ChannelGroup channels) {
        super(backend, channels);
        this.backend = backend;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ClientRequest request) {
        if (request instanceof MongoMessage) {
            MongoMessage message = (MongoMessage) request;
            Document command = message.getDocument();
            Object cursorId = command.get("getMore");
            ChangeStreamCursor cursor = cursorId instanceof Number ? backend.stream(((Number) cursorId).longValue()) : null;
            if (cursor != null) {
                int requestId = message.getHeader().getRequestID();
                new ChangeStreamGetMore(backend, cursor, command, ctx.channel().eventLoop(), reply -> ctx.channel()
                    .writeAndFlush(new MongoMessage(ctx.channel(), new MessageHeader(RESPONSE_IDS.incrementAndGet(), requestId), reply)))
                    .start();
                return;
            }
        }
        super.channelRead0(ctx, request);
    }
}
