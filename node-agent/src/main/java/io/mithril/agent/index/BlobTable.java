package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The index's blobs without an object per blob: an open-addressing (linear probing) table of
 * ids, and per id the address's four words, the size and the reference count in primitive
 * arrays. Ids of removed blobs are reused. About 52 bytes a blob. Not thread-safe.
 */
final class BlobTable {
    private long[] words = new long[4 * 16];
    private long[] sizes = new long[16];
    private int[] refs = new int[16];
    /** id + 1, or 0 for an empty slot. */
    private int[] slots = new int[32];

    private int[] free = new int[16];
    private int freeCount;
    private int idLimit;
    private int count;
    /** One bit per id while a reconcile marks the blobs it finds on disk; null otherwise. */
    private long[] marks;

    private static int home(long w0, int mask) {
        long h = w0 * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** Sizes the arrays for {@code n} blobs at once, when empty. */
    void presize(int n) {
        if (count != 0 || n <= sizes.length) {
            return;
        }
        words = new long[4 * n];
        sizes = new long[n];
        refs = new int[n];
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
        for (int i = home(w0, mask); ; i = (i + 1) & mask) {
            int s = slots[i];
            if (s == 0) {
                return -1;
            }
            int o = (s - 1) * 4;
            if (words[o] == w0 && words[o + 1] == w1 && words[o + 2] == w2 && words[o + 3] == w3) {
                return s - 1;
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
            if (id >= sizes.length) {
                int cap = sizes.length * 2;
                words = Arrays.copyOf(words, cap * 4);
                sizes = Arrays.copyOf(sizes, cap);
                refs = Arrays.copyOf(refs, cap);
                if (marks != null) {
                    marks = Arrays.copyOf(marks, (cap + 63) >>> 6);
                }
            }
        }
        int o = id * 4;
        words[o] = w0;
        words[o + 1] = w1;
        words[o + 2] = w2;
        words[o + 3] = w3;
        sizes[id] = size;
        refs[id] = 0;
        if (marks != null) {
            marks[id >>> 6] |= 1L << id; // added under the lock during a reconcile: present by construction
        }
        place(id);
        if (++count * 10L > slots.length * 7L) {
            rehash(slots.length * 2);
        }
        return id;
    }

    private void place(int id) {
        int mask = slots.length - 1;
        int i = home(words[id * 4], mask);
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
        int i = home(words[id * 4], mask);
        while (slots[i] != id + 1) {
            i = (i + 1) & mask;
        }
        for (int j = (i + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
            int k = home(words[(slots[j] - 1) * 4], mask);
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
            clear();
        }
    }

    long size(int id) {
        return sizes[id];
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
        int o = id * 4;
        return new Address(words[o], words[o + 1], words[o + 2], words[o + 3]);
    }

    void forEach(Consumer<Address> sink) {
        for (int s : slots.clone()) {
            if (s != 0) {
                sink.accept(address(s - 1));
            }
        }
    }

    void startMarks() {
        marks = new long[(sizes.length + 63) >>> 6];
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

    void clear() {
        words = new long[4 * 16];
        sizes = new long[16];
        refs = new int[16];
        slots = new int[32];
        free = new int[16];
        freeCount = 0;
        idLimit = 0;
        count = 0;
        if (marks != null) {
            marks = new long[1];
        }
    }
}
