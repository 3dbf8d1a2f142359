import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import java.util.ArrayList;
import java.util.List;

/**
 * The stand-in's oplog: a bounded ring of change entries in commit order, each stamped with a cluster time that only
 * grows (seconds of the wall clock, then an increment within the second, like MongoDB's optimes). When the ring is full
 * the oldest entry falls off, as a capped oplog's does, and a stream resuming from before it fails with
 * ChangeStreamHistoryLost. Waiting getMores register a one-shot wake-up instead of polling.
 */
final class ChangeLog {
    /** One committed change, immutable once appended. Documents held here are private copies. */
    static final class Entry {
        final long ts;
        final long wallMillis;
        final String op;
        final String db;
        final String coll;
        final Object id;
        /** insert/replace: the document written; update: the post-image, kept only when post-images are enabled. */
        final Document document;
        final Document updateDescription;
        /** update/replace/delete: the pre-image, kept only when the collection enables pre- and post-images. */
        final Document preImage;
        final String toDb;
        final String toColl;

        Entry(long ts, long wallMillis, String op, String db, String coll, Object id, Document document,
              Document updateDescription, Document preImage, String toDb, String toColl) {
            this.ts = ts;
            this.wallMillis = wallMillis;
            this.op = op;
            this.db = db;
            this.coll = coll;
            this.id = id;
            this.document = document;
            this.updateDescription = updateDescription;
            this.preImage = preImage;
            this.toDb = toDb;
            this.toColl = toColl;
        }
    }

    private final Entry[] ring;
    private long firstSeq;
    private long nextSeq;
    private long lastTs;
    /**
     * Cluster time of the newest entry that fell off the ring. It starts just before the server's start, where this
     * oplog begins: nothing older can be resumed from, as on a freshly initiated replica set.
     */
    private long evictedUpTo;
    private List<Runnable> waiters = new ArrayList<>();

    ChangeLog(int capacity) {
        this.ring = new Entry[capacity];
        this.lastTs = timestamp(System.currentTimeMillis() / 1000, 0);
        this.evictedUpTo = lastTs - 1;
    }

    static long timestamp(long seconds, long increment) {
        return (seconds << 32) | (increment & 0xffffffffL);
    }

    static BsonTimestamp bson(long ts) {
        return new BsonTimestamp(ts);
    }

    /** The next cluster time: the wall clock's second, or the last one's if the clock is behind, one increment on. */
    private long tick() {
        long now = System.currentTimeMillis() / 1000;
        long lastSeconds = lastTs >>> 32;
        lastTs = now > lastSeconds ? timestamp(now, 1) : lastTs + 1;
        return lastTs;
    }

    synchronized void append(String op, String db, String coll, Object id, Document document, Document updateDescription,
                             Document preImage, String toDb, String toColl) {
        long ts = tick();
        if (nextSeq - firstSeq == ring.length) {
            evictedUpTo = ring[(int) (firstSeq % ring.length)].ts;
            ring[(int) (firstSeq % ring.length)] = null;
            firstSeq++;
        }
        ring[(int) (nextSeq % ring.length)] = new Entry(ts, System.currentTimeMillis(), op, db, coll, id, document,
            updateDescription, preImage, toDb, toColl);
        nextSeq++;
        wakeWaiters();
    }

    private void wakeWaiters() {
        if (waiters.isEmpty()) return;
        List<Runnable> woken = waiters;
        waiters = new ArrayList<>();
        for (Runnable waiter : woken) waiter.run();
    }

    /** The newest cluster time handed out: what a reply reports as operationTime. */
    synchronized long lastTs() {
        return lastTs;
    }

    /**
     * The lowest cluster time a future entry can receive; everything before it is already in the log. A high-water
     * mark at this time is what a quiet stream reports as its post-batch resume token, advancing with the clock.
     */
    synchronized long highWaterMark() {
        long now = System.currentTimeMillis() / 1000;
        return now > (lastTs >>> 32) ? timestamp(now, 0) : lastTs + 1;
    }

    /** Moves the clock to at least the given time (a client that gossiped a later cluster time, as a real node would). */
    synchronized void advanceTo(long ts) {
        if (ts > lastTs) lastTs = ts;
    }

    /** True when an entry after the given cluster time has fallen off the ring. */
    synchronized boolean lostAfter(long afterTs) {
        return evictedUpTo > afterTs;
    }

    /** What one read of the log saw: entries after a point, whether some fell off, and where the log ended. */
    static final class Slice {
        final List<Entry> entries;
        final boolean lost;
        /** When the read reached the end: the high-water mark below which every entry was in this read; else 0. */
        final long endMark;

        Slice(List<Entry> entries, boolean lost, long endMark) {
            this.entries = entries;
            this.lost = lost;
            this.endMark = endMark;
        }
    }

    /** Up to max entries with a cluster time after afterTs, oldest first, read under one lock with the end mark. */
    synchronized Slice read(long afterTs, int max) {
        if (evictedUpTo > afterTs) return new Slice(List.of(), true, 0);
        long first = firstAfter(afterTs);
        int count = (int) Math.min(max, nextSeq - first);
        List<Entry> entries = new ArrayList<>(count);
        for (long seq = first; seq < first + count; seq++) entries.add(ring[(int) (seq % ring.length)]);
        return new Slice(entries, false, first + count == nextSeq ? highWaterMark() : 0);
    }

    private long firstAfter(long afterTs) {
        long low = firstSeq;
        long high = nextSeq;
        while (low < high) {
            long mid = (low + high) >>> 1;
            if (ring[(int) (mid % ring.length)].ts <= afterTs) low = mid + 1;
            else high = mid;
        }
        return low;
    }

    /** The retained entry with exactly this cluster time, or null. */
    synchronized Entry at(long ts) {
        long seq = firstAfter(ts - 1);
        return seq < nextSeq && ring[(int) (seq % ring.length)].ts == ts ? ring[(int) (seq % ring.length)] : null;
    }

    /** Runs the waiter once, on the next append, unless something was appended after afterTs already (then now). */
    synchronized boolean awaitAppendAfter(long afterTs, Runnable waiter) {
        if (lastTs > afterTs && nextSeq > firstSeq && ring[(int) ((nextSeq - 1) % ring.length)].ts > afterTs) {
            return false;
        }
        waiters.add(waiter);
        return true;
    }

    synchronized void cancel(Runnable waiter) {
        waiters.remove(waiter);
    }
}
