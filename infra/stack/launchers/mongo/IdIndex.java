import de.bwaldvogel.mongo.backend.ValueComparator;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.NavigableSet;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.TreeSet;

/**
 * A collection's `_id` index as MongoDB keeps it: the stored positions in `_id` order, so that a query sorted by `_id`
 * with a range and a limit walks just the keys it returns. mongo-java-server's memory backend has no ordered index (its
 * `_id` index is a hash for equality), so without this every `{_id: {$gt: last}}` chunk of a snapshot filtered and
 * sorted the whole rest of the collection: a copy was O(n^2) on the stand-in and O(n log n) on MongoDB.
 *
 * It is kept as one ordered part per type (TypeOrder's ranks), in mongo-java-server's own ValueComparator order inside
 * a part, which together is exactly the order its sort gives, so an answer read from here is the one its scan would
 * give; a `$type` condition reads only its types' parts. Equal keys (which its unique index does not let in, but an
 * order must say something about them) keep the scan's order too: ascending storage position, in either direction.
 * Not thread-safe: the owning collection calls it under its own lock, as it does its document list.
 */
final class IdIndex {
    private record Entry(Object id, int position) {
    }

    private static final Comparator<Entry> ORDER = Comparator
        .<Entry, Object>comparing(Entry::id, ValueComparator.asc())
        .thenComparingInt(Entry::position);

    private final List<NavigableSet<Entry>> parts = new ArrayList<>();
    /** Positions whose `_id` ValueComparator cannot sort; while there are any, `_id`-sorted queries take the scan. */
    private final Set<Integer> unsortable = new HashSet<>();

    IdIndex() {
        for (int rank = 0; rank < TypeOrder.RANKS; rank++) parts.add(new TreeSet<>(ORDER));
    }

    void add(Object id, int position) {
        int rank = TypeOrder.rank(id);
        if (rank == TypeOrder.UNSORTABLE) {
            unsortable.add(position);
        } else {
            parts.get(rank).add(new Entry(id, position));
        }
    }

    void remove(Object id, int position) {
        int rank = TypeOrder.rank(id);
        if (rank == TypeOrder.UNSORTABLE) {
            unsortable.remove(position);
        } else {
            parts.get(rank).remove(new Entry(id, position));
        }
    }

    boolean sortable() {
        return unsortable.isEmpty();
    }

    /**
     * Positions in `_id` order from a starting key (none: from the first or last key), within the given type ranks
     * (null: all), lazily, so a reader that stops after its limit has paid for what it read and O(log n) descents only.
     */
    Iterator<Integer> positions(boolean ascending, IdBound start, BitSet ranks) {
        int startRank = start == null ? -1 : TypeOrder.rank(start.id());
        List<Iterator<Integer>> walks = new ArrayList<>();
        for (int step = 0; step < TypeOrder.RANKS; step++) {
            int rank = ascending ? step : TypeOrder.RANKS - 1 - step;
            if (ranks != null && !ranks.get(rank)) continue;
            if (startRank >= 0 && (ascending ? rank < startRank : rank > startRank)) continue;
            walks.add(walk(parts.get(rank), ascending, rank == startRank ? start : null));
        }
        Iterator<Iterator<Integer>> each = walks.iterator();
        return new Iterator<>() {
            private Iterator<Integer> current = each.hasNext() ? each.next() : null;

            @Override
            public boolean hasNext() {
                while (current != null && !current.hasNext()) current = each.hasNext() ? each.next() : null;
                return current != null;
            }

            @Override
            public Integer next() {
                if (!hasNext()) throw new NoSuchElementException();
                return current.next();
            }
        };
    }

    private static Iterator<Integer> walk(NavigableSet<Entry> part, boolean ascending, IdBound start) {
        if (ascending) {
            NavigableSet<Entry> from = start == null ? part
                : part.tailSet(new Entry(start.id(), start.inclusive() ? Integer.MIN_VALUE : Integer.MAX_VALUE), true);
            Iterator<Entry> entries = from.iterator();
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return entries.hasNext();
                }

                @Override
                public Integer next() {
                    return entries.next().position();
                }
            };
        }
        NavigableSet<Entry> upTo = start == null ? part
            : part.headSet(new Entry(start.id(), start.inclusive() ? Integer.MAX_VALUE : Integer.MIN_VALUE), true);
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
