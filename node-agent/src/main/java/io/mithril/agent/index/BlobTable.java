package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The index's blobs without an object per blob: an open-addressing (linear probing) table of
 * ids, per id the reference count in an {@code int[]}, and the address's four words and the size
 * in slabs of the {@link Arena}'s memory (off the heap in a store). Ids of removed blobs are
 * reused. On the heap about 10 bytes a blob (count and slot); 40 in the slabs. Not thread-safe.
 */
final class BlobTable {
    /** Ids per slab: 16,384 (640 KiB). */
    private static final int SLAB_SHIFT = 14;

    private static final int SLAB_MASK = (1 << SLAB_SHIFT) - 1;
    private static final int ID_BYTES = 40;
    private final Arena arena;
    /** Per id, at {@code (id & SLAB_MASK) * 40} of slab {@code id >>> SLAB_SHIFT}: four address words, the size. */
    private ByteBuffer[] slabs = new ByteBuffer[0];

    private int[] refs = new int[16];
    /**
     * Per id, a 32-bit print of the address, on the heap: the table's home slot comes from it and
     * probes compare it before they touch a slab, so a lookup of an absent blob (every new blob a
     * replay adds), a rehash and a removal's shifts never page in slab memory, and a present blob
     * pages in one slab line. Under a memory limit the slabs' pages may have been dropped; random
     * reads of them make a replay crawl.
     */
    private int[] prints = new int[16];
    /** id + 1, or 0 for an empty slot. */
    private int[] slots = new int[32];

    private int[] free = new int[16];
    private int freeCount;
    private int idLimit;
    private int count;
    /** One bit per id while a reconcile marks the blobs it finds on disk; null otherwise. */
    private long[] marks;

    BlobTable(Arena arena) {
        this.arena = arena;
    }

    private static int print(long w0) {
        return (int) (w0 ^ (w0 >>> 32));
    }

    private static int home(int print, int mask) {
        int h = print * 0x9E3779B9;
        return (h ^ (h >>> 16)) & mask;
    }

    /** Sizes the arrays for {@code n} blobs at once, when empty. */
    void presize(int n) {
        if (count != 0 || n <= refs.length) {
            return;
        }
        refs = new int[n];
        prints = new int[n];
        ensureSlabs(n);
        int cap = 32;
        while (n * 10L > cap * 7L) {
            cap <<= 1;
        }
        slots = new int[cap];
    }

    int count() {
        return count;
    }

    /** The blob's id, or -1. */
    int find(long w0, long w1, long w2, long w3) {
        int mask = slots.length - 1;
        int p = print(w0);
        for (int i = home(p, mask); ; i = (i + 1) & mask) {
            int s = slots[i];
            if (s == 0) {
                return -1;
            }
            int id = s - 1;
            if (prints[id] != p) {
                continue;
            }
            ByteBuffer b = slabs[id >>> SLAB_SHIFT];
            int o = (id & SLAB_MASK) * ID_BYTES;
            if (b.getLong(o) == w0 && b.getLong(o + 8) == w1 && b.getLong(o + 16) == w2 && b.getLong(o + 24) == w3) {
                return id;
            }
        }
    }

    int find(Address a) {
        return find(a.w0(), a.w1(), a.w2(), a.w3());
    }

    /** Adds an absent blob with no references; returns its id. */
    int add(long w0, long w1, long w2, long w3, long size) {
        int id;
        if (freeCount > 0) {
            id = free[--freeCount];
        } else {
            id = idLimit++;
            if (id >= refs.length) {
                int cap = refs.length * 2;
                refs = Arrays.copyOf(refs, cap);
                prints = Arrays.copyOf(prints, cap);
                if (marks != null) {
                    marks = Arrays.copyOf(marks, (cap + 63) >>> 6);
                }
            }
            ensureSlabs(id + 1);
        }
        ByteBuffer b = slabs[id >>> SLAB_SHIFT];
        int o = (id & SLAB_MASK) * ID_BYTES;
        b.putLong(o, w0)
                .putLong(o + 8, w1)
                .putLong(o + 16, w2)
                .putLong(o + 24, w3)
                .putLong(o + 32, size);
        refs[id] = 0;
        prints[id] = print(w0);
        if (marks != null) {
            marks[id >>> 6] |= 1L << id; // added under the lock during a reconcile: present by construction
        }
        place(id);
        if (++count * 10L > slots.length * 7L) {
            rehash(slots.length * 2);
        }
        return id;
    }

    /** Slabs for ids below {@code n}. */
    private void ensureSlabs(int n) {
        int need = (n + SLAB_MASK) >>> SLAB_SHIFT;
        if (need <= slabs.length) {
            return;
        }
        int have = slabs.length;
        if (have > 0) {
            Arena.clean(slabs[have - 1]); // filled in id order: written back as the next one starts
        }
        slabs = Arrays.copyOf(slabs, need);
        for (int i = have; i < need; i++) {
            slabs[i] = arena.allocate(ID_BYTES << SLAB_SHIFT);
        }
    }

    private int homeOf(int id, int mask) {
        return home(prints[id], mask);
    }

    private void place(int id) {
        int mask = slots.length - 1;
        int i = homeOf(id, mask);
        while (slots[i] != 0) {
            i = (i + 1) & mask;
        }
        slots[i] = id + 1;
    }

    private void rehash(int capacity) {
        int[] old = slots;
        slots = new int[capacity];
        for (int s : old) {
            if (s != 0) {
                place(s - 1);
            }
        }
    }

    /** Removes the blob with this id (backward-shift deletion keeps every probe chain whole). */
    void remove(int id) {
        int mask = slots.length - 1;
        int i = homeOf(id, mask);
        while (slots[i] != id + 1) {
            i = (i + 1) & mask;
        }
        for (int j = (i + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
            int k = homeOf(slots[j] - 1, mask);
            boolean stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                slots[i] = slots[j];
                i = j;
            }
        }
        slots[i] = 0;
        if (freeCount == free.length) {
            free = Arrays.copyOf(free, free.length * 2);
        }
        free[freeCount++] = id;
        count--;
        if (count == 0) {
            restart();
        }
    }

    long size(int id) {
        return slabs[id >>> SLAB_SHIFT].getLong((id & SLAB_MASK) * ID_BYTES + 32);
    }

    int refs(int id) {
        return refs[id];
    }

    void ref(int id) {
        refs[id]++;
    }

    /** Drops one reference; returns the count left. */
    int unref(int id) {
        return --refs[id];
    }

    Address address(int id) {
        ByteBuffer b = slabs[id >>> SLAB_SHIFT];
        int o = (id & SLAB_MASK) * ID_BYTES;
        return new Address(b.getLong(o), b.getLong(o + 8), b.getLong(o + 16), b.getLong(o + 24));
    }

    void forEach(Consumer<Address> sink) {
        for (int s : slots.clone()) {
            if (s != 0) {
                sink.accept(address(s - 1));
            }
        }
    }

    void startMarks() {
        marks = new long[(refs.length + 63) >>> 6];
    }

    /** Marks a blob found on disk; returns whether the index knows it. */
    boolean mark(Address a) {
        int id = find(a);
        if (id < 0) {
            return false;
        }
        marks[id >>> 6] |= 1L << id;
        return true;
    }

    /** Whether the blob with this id was marked since {@link #startMarks}. */
    boolean marked(int id) {
        return (marks[id >>> 6] & (1L << id)) != 0;
    }

    void endMarks() {
        marks = null;
    }

    /** Empty again: ids from 0, small tables; the slabs are kept for the ids to come. */
    private void restart() {
        refs = new int[16];
        prints = new int[16];
        slots = new int[32];
        free = new int[16];
        freeCount = 0;
        idLimit = 0;
        if (marks != null) {
            marks = new long[1];
        }
    }

    void clear() {
        for (ByteBuffer b : slabs) {
            arena.free(b);
        }
        slabs = new ByteBuffer[0];
        count = 0;
        restart();
    }
}
