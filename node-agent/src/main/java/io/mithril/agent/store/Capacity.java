package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.Index;
import java.io.IOException;
import java.nio.file.FileStore;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What the store may still hold: committed bytes (the index's unique bytes), this process's
 * reservations (writes in flight, blobs written but not committed) and every other live process's
 * (their leases), against the hard limit in force; and making room by evicting least recently used
 * unpinned entries. Called under the store lock, except {@link #written}, which needs only the
 * in-process mutex (the lease keeps announcing at least the truth until it is rewritten).
 */
final class Capacity {

    /** Room the journal, lease files and directories may take beyond the blobs; kept free with the reserve. */
    static final long METADATA_MARGIN = 1L << 20;
    /** What {@link #ensureRoom} returns when it had no need to read the other processes' leases. */
    static final Leases.Others NO_OTHERS = new Leases.Others(Set.of(), 0, Set.of());

    /** Makes removals durable and deletes the blobs they freed. */
    @FunctionalInterface
    interface Retirer {
        void retire(List<Index.Removal> removals) throws IOException;
    }

    private final StoreConfig config;
    /** The filesystem under the root, for the free-space reserve; null when there is none. */
    private final FileStore fileStore;

    private final Index index;
    private final Pinning pinning;
    private final Retirer retirer;
    /** Bytes reserved by this process's writes in flight. */
    private long inflight;
    /** Blobs this process wrote and has not committed yet, with their sizes; reserved against the limit. */
    private final Map<Address, Long> pending = new HashMap<>();

    private long pendingBytes;

    Capacity(StoreConfig config, FileStore fileStore, Index index, Pinning pinning, Retirer retirer) {
        this.config = config;
        this.fileStore = fileStore;
        this.index = index;
        this.pinning = pinning;
        this.retirer = retirer;
    }

    /** Whether the limit in force moves with the filesystem's free space. */
    boolean followsDisk() {
        return fileStore != null;
    }

    /** Reserves {@code bytes} for a write, making room first. */
    void reserve(long bytes) throws IOException {
        ensureRoom(bytes, k -> false, Set.of(), Set.of());
        inflight += bytes;
    }

    /**
     * Reserves {@code bytes} if they fit as things stand, evicting nothing; false (and nothing
     * reserved) otherwise. For a batch of writes taken in one step ({@link NodeStore#reserveFor}):
     * where they do not fit, each write reserves (and makes room) on its own, as without a batch.
     */
    boolean reserveIfRoom(long bytes) throws IOException {
        if (config.hardLimit() < StoreConfig.UNLIMITED || fileStore != null) {
            if (usage(pinning.others()) + bytes > hardLimitNow()) {
                return false;
            }
        }
        inflight += bytes;
        return true;
    }

    /** Gives back a reservation whose write failed. */
    void release(long bytes) {
        inflight -= bytes;
    }

    /** A write that reserved {@code reserved} finished: the reservation moves to the blob unless it is already counted. */
    void written(long reserved, Address a, long size, boolean existed) {
        inflight -= reserved;
        if (!existed && !index.hasBlob(a) && pending.putIfAbsent(a, size) == null) {
            pendingBytes += size;
        }
    }

    boolean isPending(Address a) {
        return pending.containsKey(a);
    }

    /** Stops reserving a blob this process wrote; true when it was reserved. */
    boolean forget(Address a) {
        Long size = pending.remove(a);
        if (size == null) {
            return false;
        }
        pendingBytes -= size;
        return true;
    }

    /** Stops reserving these blobs: they are committed now. */
    void committed(Collection<Address> addresses) {
        for (Address a : addresses) {
            forget(a);
        }
    }

    /** Blobs this process wrote that another process committed first are no longer in flight; true if any. */
    boolean dropCommittedElsewhere() {
        if (pending.isEmpty()) {
            return false;
        }
        boolean[] changed = {false};
        pending.entrySet().removeIf(x -> {
            if (index.hasBlob(x.getKey())) {
                pendingBytes -= x.getValue();
                changed[0] = true;
                return true;
            }
            return false;
        });
        return changed[0];
    }

    /** Forgets every uncommitted blob, returning them (the store is closing). */
    List<Address> drainPending() {
        List<Address> out = new ArrayList<>(pending.keySet());
        pending.clear();
        pendingBytes = 0;
        return out;
    }

    /** Bytes this process's lease announces. */
    long ownReserved() {
        return inflight + pendingBytes;
    }

    long usage(Leases.Others others) {
        return index.uniqueBytes() + inflight + pendingBytes + others.reserved();
    }

    /** Everything reserved, by this process and the others, beyond committed bytes. */
    long reservations(Leases.Others others) {
        return usage(others) - index.uniqueBytes();
    }

    /**
     * Makes room for {@code bytes} more under the hard limit, evicting if needed. Entries
     * {@code alsoPinned} accepts (of which {@code alsoKeys} are the known ones) and the blobs in
     * {@code keepBlobs} are held as if pinned. Returns the other processes' leases as read, or
     * {@link #NO_OTHERS} when there is no limit to check.
     */
    Leases.Others ensureRoom(long bytes, Predicate<EntryKey> alsoPinned, Set<EntryKey> alsoKeys, Set<Address> keepBlobs)
            throws IOException {
        if (config.hardLimit() >= StoreConfig.UNLIMITED && fileStore == null) {
            return NO_OTHERS; // no limit: other processes' reservations cannot matter
        }
        Leases.Others others = pinning.others();
        long limit = hardLimitNow();
        if (bytes == 0 || usage(others) + bytes <= limit) {
            return others;
        }
        long reservations = reservations(others);
        Predicate<EntryKey> pinned = pinning.pinned(others, alsoPinned);
        // Evict only if that can succeed: never empty the cache for a write that cannot fit anyway.
        if (reservations + pinnedBytes(others, alsoKeys, keepBlobs) + bytes <= limit) {
            retirer.retire(index.evictNode(limit - reservations - bytes, pinned));
            limit = hardLimitNow(); // eviction freed space on the filesystem too (blobs no live view links)
        }
        if (usage(others) + bytes > limit) {
            String which = limit < config.hardLimit()
                    ? "the " + config.freeSpaceReserve() + " free-space reserve of the filesystem (a limit of "
                            + ByteSize.format(limit) + " now)"
                    : "the hard limit of " + ByteSize.format(limit);
            throw new StoreFullException(String.format(
                    "store full: %s more would exceed %s (%s committed, %s reserved by writes in flight; the rest is pinned by live views)",
                    ByteSize.format(bytes),
                    which,
                    ByteSize.format(index.uniqueBytes()),
                    ByteSize.format(reservations)));
        }
        return others;
    }

    /**
     * The hard limit in force: the configured one, or less when the filesystem's usable space (statvfs)
     * would otherwise fall under the free-space reserve.
     */
    long hardLimitNow() throws IOException {
        if (fileStore == null) {
            return config.hardLimit();
        }
        long keep = config.freeSpaceReserve().of(fileStore.getTotalSpace()) + METADATA_MARGIN;
        long room = index.uniqueBytes() + fileStore.getUsableSpace() - keep;
        return Math.max(0, Math.min(config.hardLimit(), room));
    }

    /** The soft limit in force: the configured one, or 90 % of a hard limit the reserve lowered. */
    long softLimitNow() throws IOException {
        long hard = hardLimitNow();
        return hard < config.hardLimit() ? Math.min(config.softLimit(), hard / 10 * 9) : config.softLimit();
    }

    /**
     * Unique bytes that eviction cannot free: blobs of pinned entries and blobs an incoming batch
     * names. Cost is in the number of pins, not the size of the index.
     */
    private long pinnedBytes(Leases.Others others, Set<EntryKey> alsoKeys, Set<Address> keepBlobs) {
        Set<EntryKey> keys = new HashSet<>(pinning.ownKeys());
        keys.addAll(others.pinned());
        keys.addAll(alsoKeys);
        Set<Address> held = new HashSet<>();
        long total = 0;
        for (EntryKey k : keys) {
            Entry e = index.get(k);
            if (e == null) {
                continue;
            }
            for (EntryFile f : e.files()) {
                if (held.add(f.address())) {
                    total += f.size();
                }
            }
        }
        for (Address a : keepBlobs) {
            Index.BlobRef b = index.blob(a);
            if (b != null && held.add(a)) {
                total += b.size();
            }
        }
        return total;
    }
}
