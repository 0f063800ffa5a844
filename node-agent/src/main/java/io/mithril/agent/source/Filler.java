package io.mithril.agent.source;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFullException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a source's entries of a group into the local store, so a view can be published from it.
 *
 * <p>Rules: an entry the local group already holds under the same name is kept as it is (the
 * node's own is never replaced from elsewhere; compile caches key their entries by content, so the
 * same name is the same artifact). Blobs the store holds are not fetched. Every fetched byte is
 * hashed as it is stored: a blob whose bytes do not match its address, or that runs past the size
 * the entry gives it, is dropped and counted, and no entry naming it is committed. Entries are
 * units: one is committed only when all its blobs are in; what was fetched for an entry left
 * incomplete is given back. A deadline stops fetching between blobs; what is complete by then is
 * committed.
 *
 * <p>Concurrent fills of one group into one store in this process take turns (a lock per store
 * root and group): the second finds what the first brought in and fetches only what is still
 * missing, so concurrent pods of a group on a node fetch each blob once. A fill that cannot have
 * its turn by its deadline fetches nothing.
 */
public final class Filler {
    private static final Logger log = LoggerFactory.getLogger(Filler.class);
    private static final Map<Turn, ReentrantLock> TURNS = new ConcurrentHashMap<>();

    /**
     * What a fill did. {@code listed}: the source's entries that the filter kept; {@code present}: of
     * those, already local; {@code committed}: brought in; {@code incomplete}: left out (a blob missing
     * at the source, rejected, or not fetched by the deadline); {@code rejected}: blobs whose bytes did
     * not match their address or size.
     */
    public record Report(
            int listed,
            int present,
            int committed,
            int incomplete,
            int blobsFetched,
            long bytesFetched,
            int rejected,
            int missing,
            boolean timedOut,
            long nanos) {}

    private final NodeStore store;
    private final LongSupplier nanoTime;

    /** Whose turn it is to fill: a group of a store. */
    private record Turn(Path root, GroupId group) {}

    public Filler(NodeStore store) {
        this(store, System::nanoTime);
    }

    /** {@code nanoTime}: the clock the deadline is read from. */
    public Filler(NodeStore store, LongSupplier nanoTime) {
        this.store = store;
        this.nanoTime = nanoTime;
    }

    /**
     * Fills the local {@code group} with the entries of {@code source}'s same group that {@code wanted}
     * keeps, fetching until {@code deadlineNanos} (on this filler's clock).
     */
    public Report fill(EntrySource source, GroupId group, Predicate<Entry> wanted, long deadlineNanos)
            throws IOException {
        long t0 = nanoTime.getAsLong();
        ReentrantLock turn = TURNS.computeIfAbsent(new Turn(store.root(), group), k -> new ReentrantLock());
        try {
            if (!turn.tryLock(Math.max(0, deadlineNanos - t0), TimeUnit.NANOSECONDS)) {
                log.info(
                        "filling {} from {}: another fill of the group held it past the deadline",
                        group,
                        source.describe());
                return new Report(0, 0, 0, 0, 0, 0, 0, 0, true, nanoTime.getAsLong() - t0);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for another fill of " + group);
        }
        try {
            return fillHeld(source, group, wanted, deadlineNanos, t0);
        } finally {
            turn.unlock();
        }
    }

    private Report fillHeld(EntrySource source, GroupId group, Predicate<Entry> wanted, long deadlineNanos, long t0)
            throws IOException {
        Set<String> local = new HashSet<>();
        for (Entry e : store.entries(group)) {
            local.add(e.key().name());
        }
        List<Entry> todo = new ArrayList<>();
        int listed = 0;
        for (Entry e : source.entries(group)) {
            if (!e.key().group().equals(group) || !wanted.test(e)) {
                continue; // a source that answers with another group's entries is not believed
            }
            listed++;
            if (!local.contains(e.key().name())) {
                todo.add(e);
            }
        }
        Map<Address, Long> sizes = new HashMap<>();
        for (Entry e : todo) {
            for (EntryFile f : e.files()) {
                if (!store.exists(f.address())) {
                    sizes.put(f.address(), f.size());
                }
            }
        }
        Sink sink = new Sink(sizes, deadlineNanos);
        Set<Address> missing = Set.of();
        if (!sizes.isEmpty()) {
            try {
                missing = source.fetch(sizes.keySet(), sink);
            } catch (DeadlineReached d) {
                // what arrived before it stands
            } catch (StoreFullException full) {
                log.warn("filling {} from {} stopped: {}", group, source.describe(), full.getMessage());
            } catch (IOException | RuntimeException e) {
                log.warn("filling {} from {} failed part-way: {}", group, source.describe(), e.toString());
            }
        }
        List<NodeStore.Pending> batch = new ArrayList<>();
        List<Address> unused = new ArrayList<>(sink.stored);
        int incomplete = 0;
        for (Entry e : todo) {
            boolean whole = true;
            for (EntryFile f : e.files()) {
                whole &= !sizes.containsKey(f.address()) || sink.stored.contains(f.address());
            }
            if (whole) {
                batch.add(new NodeStore.Pending(e.key(), e.files(), "fetched from " + source.describe()));
            } else {
                incomplete++;
            }
        }
        int committed = 0;
        for (NodeStore.Outcome o : store.commitAll(batch)) {
            if (o.error() == null) {
                committed++;
                o.pending().files().forEach(f -> unused.remove(f.address()));
            } else {
                incomplete++;
                log.warn(
                        "could not commit {} fetched from {}: {}",
                        o.pending().key(),
                        source.describe(),
                        o.error().toString());
            }
        }
        store.abandon(unused);
        Report r = new Report(
                listed,
                listed - todo.size(),
                committed,
                incomplete,
                sink.stored.size(),
                sink.bytes,
                sink.rejected,
                missing.size(),
                sink.timedOut,
                nanoTime.getAsLong() - t0);
        if (r.rejected() > 0) {
            log.warn("{} blobs from {} did not match their address and were dropped", r.rejected(), source.describe());
        }
        return r;
    }

    /** Thrown by the sink to stop a fetch at the deadline. */
    private static final class DeadlineReached extends IOException {
        DeadlineReached() {
            super("fill deadline reached");
        }
    }

    private final class Sink implements EntrySource.BlobSink {
        final Map<Address, Long> sizes;
        final long deadline;
        final Set<Address> stored = new HashSet<>();
        long bytes;
        int rejected;
        boolean timedOut;

        Sink(Map<Address, Long> sizes, long deadline) {
            this.sizes = sizes;
            this.deadline = deadline;
        }

        @Override
        public synchronized void accept(Address claimed, InputStream in) throws IOException {
            if (nanoTime.getAsLong() - deadline >= 0) {
                timedOut = true;
                throw new DeadlineReached();
            }
            Long size = sizes.get(claimed);
            if (size == null || stored.contains(claimed)) {
                return; // not asked for, or handed twice: not read
            }
            Bounded b = new Bounded(in, size);
            NodeStore.Stored s = store.put(b, size);
            if (!s.address().equals(claimed) || b.over || s.size() != size) {
                rejected++;
                if (!s.existed()) {
                    store.abandon(List.of(s.address()));
                }
                log.warn(
                        "blob {} from the source has other bytes ({}, {} B); dropped",
                        claimed.hex(),
                        s.address().hex(),
                        s.size());
                return;
            }
            stored.add(claimed);
            bytes += size;
        }
    }

    /** Reads at most {@code limit} + 1 bytes: one more than allowed marks the blob as too long without reading on. */
    private static final class Bounded extends FilterInputStream {
        private long left;
        boolean over;

        Bounded(InputStream in, long limit) {
            super(in);
            this.left = limit + 1;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                over = true;
                return -1;
            }
            int c = super.read();
            if (c >= 0 && --left == 0) {
                over = true;
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                over = true;
                return -1;
            }
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
                if (left == 0) {
                    over = true;
                }
            }
            return n;
        }
    }
}
