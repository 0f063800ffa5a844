package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The in-memory index of a node store: entries per group in least-recently-used order, and a
 * reference count per blob. It does no I/O and takes no locks; {@code NodeStore} owns it and
 * calls it under its lock, and the model-based test drives it against a naive reference.
 *
 * <p>Invariants, checked by {@link #checkInvariants()} in tests:
 * <ul>
 *   <li>a blob is in {@link #blobs} exactly when at least one entry refers to it, and its count is
 *       the number of (entry, file) references;</li>
 *   <li>{@link #uniqueBytes} is the sum of the sizes of those blobs: what the node really stores;</li>
 *   <li>a group's bytes are the logical sum of its entries' sizes (shared blobs count in each
 *       group that uses them, so a group's budget does not depend on its neighbours);</li>
 *   <li>within a group, iteration order is least recently used first.</li>
 * </ul>
 * Eviction removes whole entries, never single files, and never an entry the pin predicate holds.
 */
public final class Index {

    /** A blob known to the index: its size and how many entry files refer to it. */
    public static final class BlobRef {
        final long size;
        int refs;

        BlobRef(long size) {
            this.size = size;
        }

        public long size() {
            return size;
        }

        public int refs() {
            return refs;
        }
    }

    /** What a removal freed: the entry and the blobs no entry refers to any more. */
    public record Removal(Entry entry, EvictionCause cause, List<Address> freedBlobs, long freedBytes) {}

    private static final class Group {
        final LinkedHashMap<String, Entry> lru = new LinkedHashMap<>();
        long bytes;
        /** Largest lastUse ever placed at the tail: keeps the LRU order and lastUse in step. */
        long maxUse = Long.MIN_VALUE;

        long clamp(long time) {
            maxUse = Math.max(maxUse, time);
            return maxUse;
        }
    }

    private final Map<GroupId, Group> groups = new HashMap<>();
    private final Map<Address, BlobRef> blobs = new HashMap<>();
    private long uniqueBytes;
    private int entryCount;

    /**
     * Adds an entry, replacing any entry under the same key. Returns the blobs the replaced version
     * held alone (now unreferenced), so the caller can delete them after journaling.
     */
    public Removal put(Entry e) {
        Group g = groups.computeIfAbsent(e.key().group(), k -> new Group());
        for (EntryFile f : e.files()) {
            BlobRef b = blobs.get(f.address());
            if (b == null) {
                b = new BlobRef(f.size());
                blobs.put(f.address(), b);
                uniqueBytes += f.size();
            }
            b.refs++;
        }
        Entry old = g.lru.remove(e.key().name());
        e.lastUse = g.clamp(e.lastUse);
        g.lru.put(e.key().name(), e);
        g.bytes += e.bytes();
        entryCount++;
        if (old == null) {
            return null;
        }
        return unlink(g, old, EvictionCause.DELETED);
    }

    public Entry get(EntryKey key) {
        Group g = groups.get(key.group());
        return g == null ? null : g.lru.get(key.name());
    }

    /** Records a use: moves the entry to the most recently used end. O(1). */
    public boolean touch(EntryKey key, long time) {
        Group g = groups.get(key.group());
        Entry e = g == null ? null : g.lru.remove(key.name());
        if (e == null) {
            return false;
        }
        e.lastUse = g.clamp(Math.max(time, e.lastUse));
        g.lru.put(key.name(), e);
        return true;
    }

    public Removal remove(EntryKey key, EvictionCause cause) {
        Group g = groups.get(key.group());
        Entry e = g == null ? null : g.lru.remove(key.name());
        return e == null ? null : unlink(g, e, cause);
    }

    private Removal unlink(Group g, Entry e, EvictionCause cause) {
        g.bytes -= e.bytes();
        entryCount--;
        if (g.lru.isEmpty()) {
            groups.remove(e.key().group());
        }
        List<Address> freed = new ArrayList<>(1);
        long freedBytes = 0;
        for (EntryFile f : e.files()) {
            BlobRef b = blobs.get(f.address());
            if (--b.refs == 0) {
                blobs.remove(f.address());
                uniqueBytes -= b.size;
                freed.add(f.address());
                freedBytes += b.size;
            }
        }
        return new Removal(e, cause, freed, freedBytes);
    }

    /**
     * Evicts least recently used unpinned entries, across all groups, until the node's unique bytes
     * are at most {@code targetBytes} or nothing evictable is left.
     */
    public List<Removal> evictNode(long targetBytes, Predicate<EntryKey> pinned) {
        List<Removal> out = new ArrayList<>();
        while (uniqueBytes > targetBytes) {
            Group victimGroup = null;
            Entry victim = null;
            for (Group g : groups.values()) {
                Entry head = firstUnpinned(g, pinned);
                if (head != null && (victim == null || head.lastUse < victim.lastUse)) {
                    victim = head;
                    victimGroup = g;
                }
            }
            if (victim == null) {
                break;
            }
            victimGroup.lru.remove(victim.key().name());
            out.add(unlink(victimGroup, victim, EvictionCause.NODE_BUDGET));
        }
        return out;
    }

    /** Evicts a group's least recently used unpinned entries until its logical bytes fit. */
    public List<Removal> evictGroup(GroupId group, long targetBytes, Predicate<EntryKey> pinned) {
        List<Removal> out = new ArrayList<>();
        Group g = groups.get(group);
        while (g != null && g.bytes > targetBytes) {
            Entry victim = firstUnpinned(g, pinned);
            if (victim == null) {
                break;
            }
            g.lru.remove(victim.key().name());
            out.add(unlink(g, victim, EvictionCause.GROUP_BUDGET));
            if (g.lru.isEmpty()) {
                break;
            }
        }
        return out;
    }

    private static Entry firstUnpinned(Group g, Predicate<EntryKey> pinned) {
        for (Iterator<Entry> it = g.lru.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (!pinned.test(e.key())) {
                return e;
            }
        }
        return null;
    }

    public long uniqueBytes() {
        return uniqueBytes;
    }

    public int entryCount() {
        return entryCount;
    }

    public int blobCount() {
        return blobs.size();
    }

    public long groupBytes(GroupId group) {
        Group g = groups.get(group);
        return g == null ? 0 : g.bytes;
    }

    /** The latest use (or write) of the group's entries, present or removed since; 0 when none. */
    public long groupLastUse(GroupId group) {
        Group g = groups.get(group);
        return g == null || g.maxUse == Long.MIN_VALUE ? 0 : g.maxUse;
    }

    public int groupEntries(GroupId group) {
        Group g = groups.get(group);
        return g == null ? 0 : g.lru.size();
    }

    public Collection<GroupId> groups() {
        return List.copyOf(groups.keySet());
    }

    /** A group's entries, least recently used first. Callers must not modify the index meanwhile. */
    public Collection<Entry> entries(GroupId group) {
        Group g = groups.get(group);
        return g == null ? List.of() : g.lru.values();
    }

    public BlobRef blob(Address a) {
        return blobs.get(a);
    }

    public void forEachBlob(java.util.function.Consumer<Address> sink) {
        blobs.keySet().forEach(sink);
    }

    public boolean hasBlob(Address a) {
        return blobs.containsKey(a);
    }

    /** Every entry that refers to the blob (a scan: used only on the rare corruption path). */
    public List<EntryKey> entriesReferring(Address a) {
        List<EntryKey> out = new ArrayList<>();
        for (Group g : groups.values()) {
            for (Entry e : g.lru.values()) {
                for (EntryFile f : e.files()) {
                    if (f.address().equals(a)) {
                        out.add(e.key());
                        break;
                    }
                }
            }
        }
        return out;
    }

    public void clear() {
        groups.clear();
        blobs.clear();
        uniqueBytes = 0;
        entryCount = 0;
    }

    /** Recomputes every derived figure from the entries and throws if one disagrees. For tests. */
    public void checkInvariants() {
        Map<Address, long[]> expect = new HashMap<>();
        int count = 0;
        for (Map.Entry<GroupId, Group> ge : groups.entrySet()) {
            long gb = 0;
            long prev = Long.MIN_VALUE;
            if (ge.getValue().lru.isEmpty()) {
                throw new IllegalStateException("empty group kept: " + ge.getKey());
            }
            for (Entry e : ge.getValue().lru.values()) {
                count++;
                gb += e.bytes();
                if (e.lastUse < prev) {
                    throw new IllegalStateException("LRU order broken in " + ge.getKey() + " at " + e.key());
                }
                prev = e.lastUse;
                for (EntryFile f : e.files()) {
                    expect.computeIfAbsent(f.address(), a -> new long[] {f.size(), 0})[1]++;
                }
            }
            if (gb != ge.getValue().bytes) {
                throw new IllegalStateException("group bytes " + ge.getValue().bytes + " != " + gb);
            }
        }
        if (count != entryCount) {
            throw new IllegalStateException("entry count " + entryCount + " != " + count);
        }
        long ub = 0;
        for (Map.Entry<Address, long[]> x : expect.entrySet()) {
            BlobRef b = blobs.get(x.getKey());
            if (b == null || b.refs != x.getValue()[1]) {
                throw new IllegalStateException("blob refs wrong for " + x.getKey());
            }
            ub += x.getValue()[0];
        }
        if (expect.size() != blobs.size() || ub != uniqueBytes) {
            throw new IllegalStateException("unique bytes " + uniqueBytes + " != " + ub);
        }
    }
}
