import de.bwaldvogel.mongo.backend.ValueComparator;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.Iterator;
import java.util.NavigableSet;
import java.util.NoSuchElementException;
import java.util.TreeSet;

/**
 * A collection's `_id` index as MongoDB keeps it: the stored positions in `_id` order, so that a query sorted by `_id`
 * with a range and a limit walks just the keys it returns. mongo-java-server's memory backend has no ordered index (its
 * `_id` index is a hash for equality), so without this every `{_id: {$gt: last}}` chunk of a snapshot filtered and
 * sorted the whole rest of the collection: a copy was O(n^2) on the stand-in and O(n log n) on MongoDB.
 *
 * The order is mongo-java-server's own ValueComparator (the one its sort and `$gt` use), so an answer read from here is
 * exactly the one its scan would give. Equal keys (which its unique index does not let in, but an order must say
 * something about them) keep the scan's order too: ascending storage position, in either direction. Not thread-safe:
 * the owning collection calls it under its own lock, as it does its document list.
 */
final class IdIndex {
    private record Entry(Object id, int position) {
    }

    private static final Comparator<Entry> ORDER = Comparator
        .<Entry, Object>comparing(Entry::id, ValueComparator.asc())
        .thenComparingInt(Entry::position);

    private final NavigableSet<Entry> entries = new TreeSet<>(ORDER);

    void add(Object id, int position) {
        entries.add(new Entry(id, position));
    }

    void remove(Object id, int position) {
        entries.remove(new Entry(id, position));
    }

    /**
     * Positions in `_id` order from a starting key (none: from the first or last key), lazily, so a reader that stops
     * after its limit has paid for what it read and the O(log n) descent only.
     */
    Iterator<Integer> positions(boolean ascending, IdBound start) {
        if (ascending) {
            NavigableSet<Entry> from = start == null ? entries
                : entries.tailSet(new Entry(start.id(), start.inclusive() ? Integer.MIN_VALUE : Integer.MAX_VALUE), true);
            Iterator<Entry> walk = from.iterator();
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return walk.hasNext();
                }

                @Override
                public Integer next() {
                    return walk.next().position();
                }
            };
        }
        NavigableSet<Entry> upTo = start == null ? entries
            : entries.headSet(new Entry(start.id(), start.inclusive() ? Integer.MAX_VALUE : Integer.MIN_VALUE), true);
        return new EqualKeysInPositionOrder(upTo.descendingIterator());
    }

    /** A descending walk whose runs of equal keys come out in ascending position, as the scan's stable sort leaves them. */
    private static final class EqualKeysInPositionOrder implements Iterator<Integer> {
        private final Iterator<Entry> descending;
        private final Deque<Integer> run = new ArrayDeque<>();
        private Entry pending;

        EqualKeysInPositionOrder(Iterator<Entry> descending) {
            this.descending = descending;
        }

        @Override
        public boolean hasNext() {
            return !run.isEmpty() || pending != null || descending.hasNext();
        }

        @Override
        public Integer next() {
            if (run.isEmpty()) fillRun();
            if (run.isEmpty()) throw new NoSuchElementException();
            return run.pop();
        }

        private void fillRun() {
            Entry first = pending != null ? pending : descending.hasNext() ? descending.next() : null;
            pending = null;
            if (first == null) return;
            run.push(first.position());
            while (descending.hasNext()) {
                Entry next = descending.next();
                if (ValueComparator.asc().compare(next.id(), first.id()) != 0) {
                    pending = next;
                    return;
                }
                run.push(next.position());
            }
        }
    }
}
