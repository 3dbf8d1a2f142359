import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One getMore on a change stream, answered as MongoDB answers it: at once when events are waiting, otherwise when the
 * first one arrives or when maxTimeMS (the driver's maxAwaitTimeMS; 1 s by default) runs out, with an empty batch and a
 * fresh post-batch resume token. It waits on the connection's event loop without blocking it: the change log wakes it
 * on the next append, a scheduled task ends the wait, and killing the cursor ends it with CursorKilled.
 */
final class ChangeStreamGetMore {
    static final int FIRST_BATCH_DEFAULT = 101;
    private static final int GET_MORE_DEFAULT = 10_000;
    private static final long DEFAULT_AWAIT_MILLIS = 1_000;

    private final StandInBackend backend;
    private final ChangeStreamCursor cursor;
    private final EventLoop loop;
    private final Consumer<Document> send;
    private final int batchSize;
    private final long awaitMillis;
    private final Runnable waiter = this::wake;
    private ScheduledFuture<?> timeout;
    private boolean expired;
    private boolean answered;

    ChangeStreamGetMore(StandInBackend backend, ChangeStreamCursor cursor, Document command, EventLoop loop,
                        Consumer<Document> send) {
        this.backend = backend;
        this.cursor = cursor;
        this.loop = loop;
        this.send = send;
        Object size = command.get("batchSize");
        this.batchSize = size instanceof Number && ((Number) size).intValue() > 0 ? ((Number) size).intValue() : GET_MORE_DEFAULT;
        Object await = command.get("maxTimeMS");
        this.awaitMillis = await instanceof Number ? ((Number) await).longValue() : DEFAULT_AWAIT_MILLIS;
    }

    void start() {
        cursor.whenKilled(waiter);
        attempt();
    }

    private void wake() {
        loop.execute(this::attempt);
    }

    private void attempt() {
        if (answered) return;
        if (cursor.killed()) {
            // MongoDB interrupts a getMore whose cursor is killed while it waits, with CursorKilled.
            answer(backend.withClusterTime(new Document("ok", 0.0).append("errmsg", "cursor id " + cursor.id + " was killed")
                .append("code", 237).append("codeName", "CursorKilled")));
            return;
        }
        List<Document> batch;
        try {
            batch = cursor.next(batchSize);
        } catch (MongoServerError error) {
            backend.closeStream(cursor.id);
            answer(new Document("ok", 0.0).append("errmsg", error.getMessageWithoutErrorCode())
                .append("code", error.getCode()).append("codeName", error.getCodeName()));
            return;
        }
        if (!batch.isEmpty() || cursor.finished() || expired || awaitMillis <= 0) {
            if (cursor.finished()) backend.closeStream(cursor.id);
            answer(backend.withClusterTime(StandInBackend.cursorReply("nextBatch", cursor, batch)));
            return;
        }
        if (!backend.changes().awaitAppendAfter(cursor.afterTs(), waiter)) {
            loop.execute(this::attempt);
            return;
        }
        if (timeout == null) timeout = loop.schedule(this::expire, awaitMillis, TimeUnit.MILLISECONDS);
    }

    private void expire() {
        expired = true;
        backend.changes().cancel(waiter);
        attempt();
    }

    private void answer(Document reply) {
        answered = true;
        if (timeout != null) timeout.cancel(false);
        backend.changes().cancel(waiter);
        cursor.stopWaiting(waiter);
        send.accept(reply);
    }
}
