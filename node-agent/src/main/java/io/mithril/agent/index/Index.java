package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;
import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
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
 *
 * <p>Layout, for millions of entries: one chained hash table of {@link Entry} objects (the chain,
 * the LRU links and the hash live in the entry itself: no map node per entry), a doubly linked
 * LRU list per group, and the blobs in a {@link BlobTable}. What is per file (names, paths,
 * addresses, sizes) lives in the {@link Arena}, off the heap in a store; the heap holds what is per
 * entry and a count and a slot per blob.
 */
public final class Index {

    /** A blob known to the index: its size and how many entry files refer to it (a snapshot). */
    public record BlobRef(long size, int refs) {}

    /** What a removal freed: the entry and the blobs no entry refers to any more. */
    public record Removal(Entry entry, EvictionCause cause, List<Address> freedBlobs, long freedBytes) {}

    private static final class Group {
        /** Least recently used first: {@code oldest} .. {@code newest} through {@link Entry#newer}. */
        Entry oldest;

        Entry newest;
        int size;
        long bytes;
        /** Largest lastUse ever placed at the tail: keeps the LRU order and lastUse in step. */
        long maxUse = Long.MIN_VALUE;

        long clamp(long time) {
            maxUse = Math.max(maxUse, time);
            return maxUse;
        }

        void append(Entry e) {
            e.older = newest;
            e.newer = null;
            if (newest == null) {
                oldest = e;
            } else {
                newest.newer = e;
            }
            newest = e;
            size++;
        }

        void unlinkLru(Entry e) {
            if (e.older == null) {
                oldest = e.newer;
            } else {
                e.older.newer = e.newer;
            }
            if (e.newer == null) {
                newest = e.older;
            } else {
                e.newer.older = e.older;
            }
            e.older = null;
            e.newer = null;
            size--;
        }
    }

    /**
     * Heap per entry: the {@link Entry} object (group, record's place, times, provenance, links)
     * and its hash-table slot, with a margin; the name, paths and addresses are in the arena.
     * Measured, see docs/configuration.md.
     */
    public static final long ENTRY_HEAP = 96;
    /** Heap per file of an entry: none, its path, address and size are in the entry's record in the arena. */
    public static final long FILE_HEAP = 0;
    /**
     * Heap per distinct blob: its reference count, a 32-bit print of its address and its slot in the
     * blob table (about 14 bytes), with the slack of arrays that grow by doubling; its address and
     * size are in the arena.
     */
    public static final long BLOB_HEAP = 22;

    private final Map<GroupId, Group> groups = new HashMap<>();
    private final Arena arena;
    private final BlobTable blobs;
    private Entry[] table = new Entry[64];
    private long uniqueBytes;
    private int entryCount;
    private int fileCount;

    /** An index on the heap (1 MiB chunks). */
    public Index() {
        this(Arena.heap(1 << 20));
    }

    public Index(Arena arena) {
        this.arena = arena;
        this.blobs = new BlobTable(arena);
    }

    Arena arena() {
        return arena;
    }

    private Entry find(GroupId group, byte[] name, int hash) {
        for (Entry e = table[hash & (table.length - 1)]; e != null; e = e.chain) {
            if (e.is(group, name, hash)) {
                return e;
            }
        }
        return null;
    }

    private Entry find(EntryKey key) {
        byte[] name = NameCodec.encode(key.name());
        return find(key.group(), name, Entry.hash(key.group(), name));
    }

    private Entry findSame(Entry like) {
        for (Entry e = table[like.hash & (table.length - 1)]; e != null; e = e.chain) {
            if (e.sameKey(like)) {
                return e;
            }
        }
        return null;
    }

    private void tableAdd(Entry e) {
        if (entryCount + 1 > table.length - (table.length >>> 2)) {
            Entry[] old = table;
            table = new Entry[old.length * 2];
            for (Entry head : old) {
                for (Entry x = head; x != null; ) {
                    Entry next = x.chain;
                    int b = x.hash & (table.length - 1);
                    x.chain = table[b];
                    table[b] = x;
                    x = next;
                }
            }
        }
        int b = e.hash & (table.length - 1);
        e.chain = table[b];
        table[b] = e;
    }

    private void tableRemove(Entry e) {
        int b = e.hash & (table.length - 1);
        if (table[b] == e) {
            table[b] = e.chain;
        } else {
            Entry p = table[b];
            while (p.chain != e) {
                p = p.chain;
            }
            p.chain = e.chain;
        }
        e.chain = null;
    }

    /**
     * Adds an entry, replacing any entry under the same key. Returns the blobs the replaced version
     * held alone (now unreferenced), so the caller can delete them after journaling.
     */
    public Removal put(Entry given) {
        emptySparseChunk();
        Entry e = given.chunk().arena == arena ? given : given.copyInto(arena);
        Group g = groups.computeIfAbsent(e.group(), k -> new Group());
        for (int i = 0, n = e.fileCount(); i < n; i++) {
            Address a = e.address(i);
            int id = blobs.find(a);
            if (id < 0) {
                id = blobs.add(a.w0(), a.w1(), a.w2(), a.w3(), e.size(i));
                uniqueBytes += e.size(i);
            }
            blobs.ref(id);
        }
        Entry old = findSame(e);
        if (old != null) {
            g.unlinkLru(old);
            tableRemove(old);
        }
        e.lastUse = g.clamp(e.lastUse);
        g.append(e);
        tableAdd(e);
        g.bytes += e.bytes();
        entryCount++;
        fileCount += e.fileCount();
        if (old == null) {
            return null;
        }
        return unlink(g, old, EvictionCause.DELETED);
    }

    /**
     * Moves the live records of a chunk that is mostly garbage to the current one, each as a new
     * {@link Entry} in the old one's place (an old object someone still reads stays as it was),
     * and drops the chunk. One scan of the entries per chunk emptied.
     */
    private void emptySparseChunk() {
        Arena.Chunk sparse = arena.sparse();
        if (sparse == null) {
            return;
        }
        for (Group g : groups.values()) {
            for (Entry e = g.oldest; e != null; ) {
                Entry next = e.newer;
                if (e.chunk() == sparse) {
                    int len = e.recordLength();
                    replace(g, e, e.copyInto(arena));
                    arena.release(sparse, len);
                }
                e = next;
            }
        }
        arena.drop(sparse);
    }

    /** Puts {@code m} where {@code e} is in the group's list and the table. */
    private void replace(Group g, Entry e, Entry m) {
        m.older = e.older;
        m.newer = e.newer;
        if (e.older == null) {
            g.oldest = m;
        } else {
            e.older.newer = m;
        }
        if (e.newer == null) {
            g.newest = m;
        } else {
            e.newer.older = m;
        }
        int b = e.hash & (table.length - 1);
        m.chain = e.chain;
        if (table[b] == e) {
            table[b] = m;
        } else {
            Entry p = table[b];
            while (p.chain != e) {
                p = p.chain;
            }
            p.chain = m;
        }
        e.older = null;
        e.newer = null;
        e.chain = null;
    }

    /** Sizes the tables for this many entries and blobs at once (a snapshot's load). */
    void presize(int entries, int blobCount) {
        int cap = 64;
        while (cap - (cap >>> 2) < entries) {
            cap <<= 1;
        }
        if (cap > table.length && entryCount == 0) {
            table = new Entry[cap];
        }
        blobs.presize(blobCount);
    }

    /** A group's latest use as a snapshot recorded it (uses of entries since removed count). */
    void restoreGroupLastUse(GroupId group, long lastUse) {
        Group g = groups.get(group);
        if (g != null && lastUse != 0) {
            g.maxUse = Math.max(g.maxUse, lastUse);
        }
    }

    public Entry get(EntryKey key) {
        return find(key);
    }

    /** Records a use: moves the entry to the most recently used end. O(1). */
    public boolean touch(EntryKey key, long time) {
        Entry e = find(key);
        if (e == null) {
            return false;
        }
        Group g = groups.get(key.group());
        g.unlinkLru(e);
        e.lastUse = g.clamp(Math.max(time, e.lastUse));
        g.append(e);
        return true;
    }

    public Removal remove(EntryKey key, EvictionCause cause) {
        Entry e = find(key);
        if (e == null) {
            return null;
        }
        Group g = groups.get(key.group());
        g.unlinkLru(e);
        tableRemove(e);
        return unlink(g, e, cause);
    }

    /** Accounts for an entry already out of its group's list and the table. */
    private Removal unlink(Group g, Entry e, EvictionCause cause) {
        arena.release(e.chunk(), e.recordLength());
        g.bytes -= e.bytes();
        entryCount--;
        fileCount -= e.fileCount();
        if (g.size == 0) {
            groups.remove(e.group());
        }
        List<Address> freed = new ArrayList<>(1);
        long freedBytes = 0;
        for (int i = 0, n = e.fileCount(); i < n; i++) {
            Address a = e.address(i);
            int id = blobs.find(a);
            if (blobs.unref(id) == 0) {
                long size = blobs.size(id);
                blobs.remove(id);
                uniqueBytes -= size;
                freed.add(a);
                freedBytes += size;
            }
        }
        return new Removal(e, cause, freed, freedBytes);
    }

    /**
     * Evicts least recently used unpinned entries, across all groups, until the node's unique bytes
     * are at most {@code targetBytes} or nothing evictable is left.
     */
    public List<Removal> evictNode(long targetBytes, Predicate<EntryKey> pinned) {
        return evictOldest(() -> uniqueBytes > targetBytes, pinned, EvictionCause.NODE_BUDGET);
    }

    /**
     * Evicts least recently used unpinned entries, across all groups, until {@link #heapEstimate()}
     * is at most {@code heapBytes} (the agent's memory ceiling) or nothing evictable is left.
     */
    public List<Removal> evictToHeap(long heapBytes, Predicate<EntryKey> pinned) {
        return evictOldest(() -> heapEstimate() > heapBytes, pinned, EvictionCause.MEMORY);
    }

    /**
     * What the index holds on the heap, from its counts and the costs measured by
     * {@code StoreBench} (entries of the H100 fixture's shapes): {@link #ENTRY_HEAP} per entry,
     * {@link #FILE_HEAP} per file of an entry, {@link #BLOB_HEAP} per distinct blob.
     */
    public long heapEstimate() {
        return entryCount * ENTRY_HEAP + fileCount * FILE_HEAP + blobs.count() * BLOB_HEAP + arena.heapBytes();
    }

    /** Bytes the index holds off the heap (its arena's mapped chunks and blob slabs). */
    public long offHeapBytes() {
        return arena.offHeapBytes();
    }

    private List<Removal> evictOldest(BooleanSupplier over, Predicate<EntryKey> pinned, EvictionCause cause) {
        List<Removal> out = new ArrayList<>();
        while (over.getAsBoolean()) {
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
            victimGroup.unlinkLru(victim);
            tableRemove(victim);
            out.add(unlink(victimGroup, victim, cause));
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
            g.unlinkLru(victim);
            tableRemove(victim);
            out.add(unlink(g, victim, EvictionCause.GROUP_BUDGET));
            if (g.size == 0) {
                break;
            }
        }
        return out;
    }

    private static Entry firstUnpinned(Group g, Predicate<EntryKey> pinned) {
        for (Entry e = g.oldest; e != null; e = e.newer) {
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

    /** Files of all entries (a file counts once per entry naming it, shared blob or not). */
    public int fileCount() {
        return fileCount;
    }

    public int blobCount() {
        return blobs.count();
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
        return g == null ? 0 : g.size;
    }

    public Collection<GroupId> groups() {
        return List.copyOf(groups.keySet());
    }

    /** A group's entries, least recently used first. Callers must not modify the index meanwhile. */
    public Collection<Entry> entries(GroupId group) {
        Group g = groups.get(group);
        if (g == null) {
            return List.of();
        }
        return new AbstractCollection<>() {
            @Override
            public Iterator<Entry> iterator() {
                return new Iterator<>() {
                    private Entry next = g.oldest;

                    @Override
                    public boolean hasNext() {
                        return next != null;
                    }

                    @Override
                    public Entry next() {
                        if (next == null) {
                            throw new NoSuchElementException();
                        }
                        Entry e = next;
                        next = e.newer;
                        return e;
                    }
                };
            }

            @Override
            public int size() {
                return g.size;
            }
        };
    }

    public BlobRef blob(Address a) {
        int id = blobs.find(a);
        return id < 0 ? null : new BlobRef(blobs.size(id), blobs.refs(id));
    }

    public void forEachBlob(Consumer<Address> sink) {
        blobs.forEach(sink);
    }

    public boolean hasBlob(Address a) {
        return blobs.find(a) >= 0;
    }

    /**
     * Starts a reconcile: from now until {@link #endMarks}, {@link #mark} notes the blobs found on
     * disk (one bit each, no set of addresses), and blobs added meanwhile count as found.
     */
    public void startMarks() {
        blobs.startMarks();
    }

    /** Notes a blob found on disk; returns whether the index knows it (false: an orphan). */
    public boolean mark(Address a) {
        return blobs.mark(a);
    }

    /**
     * Ends a reconcile: the entries that name a blob not found on disk (one scan of the entries
     * against the mark bits; no set of the missing addresses, which may be all of them).
     */
    public List<EntryKey> endMarks() {
        List<EntryKey> out = new ArrayList<>();
        for (Group g : groups.values()) {
            for (Entry e = g.oldest; e != null; e = e.newer) {
                for (int i = 0, n = e.fileCount(); i < n; i++) {
                    if (!blobs.marked(blobs.find(e.address(i)))) {
                        out.add(e.key());
                        break;
                    }
                }
            }
        }
        blobs.endMarks();
        return out;
    }

    /** Every entry that refers to the blob (a scan: used only on the rare corruption path). */
    public List<EntryKey> entriesReferring(Address a) {
        return entriesReferring(Set.of(a));
    }

    /** Every entry that refers to any of these blobs, in one scan. */
    public List<EntryKey> entriesReferring(Set<Address> any) {
        List<EntryKey> out = new ArrayList<>();
        if (any.isEmpty()) {
            return out;
        }
        for (Group g : groups.values()) {
            for (Entry e = g.oldest; e != null; e = e.newer) {
                for (int i = 0, n = e.fileCount(); i < n; i++) {
                    if (any.contains(e.address(i))) {
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
        arena.clear();
        table = new Entry[64];
        uniqueBytes = 0;
        entryCount = 0;
        fileCount = 0;
    }

    /** Recomputes every derived figure from the entries and throws if one disagrees. For tests. */
    public void checkInvariants() {
        Map<Address, long[]> expect = new HashMap<>();
        int count = 0;
        int files = 0;
        for (Map.Entry<GroupId, Group> ge : groups.entrySet()) {
            long gb = 0;
            long prev = Long.MIN_VALUE;
            Group g = ge.getValue();
            if (g.size == 0) {
                throw new IllegalStateException("empty group kept: " + ge.getKey());
            }
            int inGroup = 0;
            for (Entry e = g.oldest; e != null; e = e.newer) {
                count++;
                inGroup++;
                files += e.fileCount();
                gb += e.bytes();
                if (e.lastUse < prev) {
                    throw new IllegalStateException("LRU order broken in " + ge.getKey() + " at " + e.key());
                }
                if (find(e.key()) != e) {
                    throw new IllegalStateException("entry not found by its key: " + e.key());
                }
                prev = e.lastUse;
                for (int i = 0, n = e.fileCount(); i < n; i++) {
                    long size = e.size(i);
                    expect.computeIfAbsent(e.address(i), a -> new long[] {size, 0})[1]++;
                }
            }
            if (inGroup != g.size) {
                throw new IllegalStateException("group size " + g.size + " != " + inGroup);
            }
            if (gb != g.bytes) {
                throw new IllegalStateException("group bytes " + g.bytes + " != " + gb);
            }
        }
        if (count != entryCount || files != fileCount) {
            throw new IllegalStateException(
                    "entry count " + entryCount + " != " + count + " or file count " + fileCount + " != " + files);
        }
        long ub = 0;
        for (Map.Entry<Address, long[]> x : expect.entrySet()) {
            BlobRef b = blob(x.getKey());
            if (b == null || b.refs() != x.getValue()[1]) {
                throw new IllegalStateException("blob refs wrong for " + x.getKey());
            }
            ub += x.getValue()[0];
        }
        if (expect.size() != blobs.count() || ub != uniqueBytes) {
            throw new IllegalStateException("unique bytes " + uniqueBytes + " != " + ub);
        }
    }
}
