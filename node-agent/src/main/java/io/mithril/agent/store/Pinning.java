package io.mithril.agent.store;

import io.mithril.agent.index.EntryKey;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * This process's pins and the lease that announces them (with its reserved bytes) to every other
 * process on the root; and what the others' leases announce. Called under the store lock, except
 * {@link #markStale}, which needs only the in-process mutex.
 */
final class Pinning implements Closeable {

    private final Leases leases;
    private final Map<EntryKey, Integer> own = new HashMap<>();
    /** The lease announces more than this process holds now; rewritten at the next locked operation. */
    private boolean stale;

    /** Creates this process's lease; call under the store lock, so no other process takes it for a dead one. */
    Pinning(Path root) throws IOException {
        this.leases = new Leases(root);
    }

    /** This process's lease id, which its temp files carry. */
    String id() {
        return leases.id();
    }

    Leases.Others others() throws IOException {
        return leases.readOthers();
    }

    /** Whether a process died without closing since the last full reconcile alone on the root. */
    boolean crashSeen() {
        return leases.crashSeen();
    }

    void clearCrashed() throws IOException {
        leases.clearCrashed();
    }

    void pin(Collection<EntryKey> keys) {
        for (EntryKey k : keys) {
            own.merge(k, 1, Integer::sum);
        }
    }

    void unpin(Collection<EntryKey> keys) {
        for (EntryKey k : keys) {
            own.computeIfPresent(k, (x, n) -> n == 1 ? null : n - 1);
        }
    }

    /** Entries this process pins. */
    Set<EntryKey> ownKeys() {
        return own.keySet();
    }

    /** Pinned by this process, by a live other, or by {@code also}. */
    Predicate<EntryKey> pinned(Leases.Others others, Predicate<EntryKey> also) {
        return k -> own.containsKey(k) || others.pinned().contains(k) || also.test(k);
    }

    /** Rewrites the lease with this process's pins and {@code reserved} bytes. */
    void writeLease(long reserved) throws IOException {
        stale = false;
        leases.write(reserved, own.keySet());
    }

    void markStale() {
        stale = true;
    }

    boolean stale() {
        return stale;
    }

    @Override
    public void close() throws IOException {
        leases.close();
    }
}
