package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.RandomAccess;

/**
 * A committed entry: the unit of ingest, use and eviction. Files are immutable once committed; a
 * new commit under the same key replaces the entry as a whole (a new version). Only
 * {@link #lastUse} changes in place, and only under the index's lock.
 *
 * <p>Held compactly, since a node keeps millions of them in memory: the name as UTF-8 bytes, every
 * file's address and size in one {@code long[]}, the paths front-coded in one {@code byte[]}, and
 * the provenance as an interned prefix plus a time. {@link #key()} and {@link #files()} build
 * their objects on each call; code that walks many entries uses {@link #fileCount()},
 * {@link #address(int)} and {@link #size(int)} instead.
 */
public final class Entry {
    /** Longs per file in {@link #words}: the address's four, then the size. */
    static final int WORDS = 5;

    private static final String AT = " at=";

    private final GroupId group;
    private final byte[] name;
    private final long[] words;
    /** Per file: shared prefix length with the previous path, then (suffix length << 1 | executable), then the suffix. */
    private final byte[] paths;

    private final long bytes;
    private final long created;
    /** The provenance, or the part before {@code " at="} when {@link #provenanceAt} holds the time. */
    private final String provenance;
    /** The provenance's time as epoch nanoseconds, or {@link Long#MIN_VALUE} when it has none. */
    private final long provenanceAt;

    long lastUse;
    /** The index's links: its group's LRU list and hash-table chain. Only under the index's lock. */
    Entry older;

    Entry newer;
    Entry chain;
    final int hash;

    public Entry(EntryKey key, List<EntryFile> files, long created, long lastUse, String provenance) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("an entry needs at least one file: " + key);
        }
        this.group = key.group();
        this.name = NameCodec.encode(key.name());
        this.hash = hash(group, name);
        int n = files.size();
        this.words = new long[n * WORDS];
        PathCoder paths = new PathCoder(n * 24);
        long b = 0;
        for (int i = 0; i < n; i++) {
            EntryFile f = files.get(i);
            Address a = f.address();
            int w = i * WORDS;
            words[w] = a.w0();
            words[w + 1] = a.w1();
            words[w + 2] = a.w2();
            words[w + 3] = a.w3();
            words[w + 4] = f.size();
            b += f.size();
            paths.add(f.path(), f.executable());
        }
        this.paths = paths.toBytes();
        this.bytes = b;
        this.created = created;
        this.lastUse = lastUse;
        String p = provenance == null ? "" : provenance;
        long at = timeOf(p);
        if (at == Long.MIN_VALUE) {
            this.provenance = p;
        } else {
            this.provenance = p.substring(0, p.lastIndexOf(AT)).intern();
        }
        this.provenanceAt = at;
    }

    /** From a snapshot: parts already in their compact form, checked when first committed. */
    Entry(
            GroupId group,
            byte[] name,
            long[] words,
            byte[] paths,
            long created,
            long lastUse,
            String provenance,
            long provenanceAt) {
        if (words.length == 0 || words.length % WORDS != 0) {
            throw new IllegalArgumentException("bad file words in a snapshot: " + words.length);
        }
        this.group = group;
        this.name = name;
        this.hash = hash(group, name);
        this.words = words;
        this.paths = paths;
        long b = 0;
        for (int i = 4; i < words.length; i += WORDS) {
            b += words[i];
        }
        this.bytes = b;
        this.created = created;
        this.lastUse = lastUse;
        this.provenance = provenance;
        this.provenanceAt = provenanceAt;
    }

    long[] words() {
        return words;
    }

    byte[] paths() {
        return paths;
    }

    /** The provenance, or its part before the time when {@link #provenanceAt()} holds one. */
    String provenancePart() {
        return provenance;
    }

    long provenanceAt() {
        return provenanceAt;
    }

    static int hash(GroupId group, byte[] name) {
        int h = group.hashCode();
        for (byte x : name) {
            h = 31 * h + x;
        }
        return h ^ (h >>> 16);
    }

    /** Whether this entry's key is {@code group} and {@code name} (UTF-8). */
    boolean is(GroupId group, byte[] name, int hash) {
        return this.hash == hash && Arrays.equals(this.name, name) && this.group.equals(group);
    }

    byte[] name() {
        return name;
    }

    public EntryKey key() {
        return new EntryKey(group, NameCodec.decode(name));
    }

    public GroupId group() {
        return group;
    }

    /** The entry's files, in commit order (a new list on each call). */
    public List<EntryFile> files() {
        EntryFile[] out = new EntryFile[fileCount()];
        PathCoder.Reader r = new PathCoder.Reader(paths);
        for (int i = 0; i < out.length; i++) {
            String path = r.next();
            out[i] = new EntryFile(path, address(i), size(i), r.executable());
        }
        return new Files(out);
    }

    public int fileCount() {
        return words.length / WORDS;
    }

    public Address address(int i) {
        int w = i * WORDS;
        return new Address(words[w], words[w + 1], words[w + 2], words[w + 3]);
    }

    public long size(int i) {
        return words[i * WORDS + 4];
    }

    /** Whether file {@code i}'s blob is the one with these words. */
    boolean names(int i, long w0, long w1, long w2, long w3) {
        int w = i * WORDS;
        return words[w] == w0 && words[w + 1] == w1 && words[w + 2] == w2 && words[w + 3] == w3;
    }

    /** Whether any file's blob is {@code a}. */
    public boolean refersTo(Address a) {
        for (int i = 0, n = fileCount(); i < n; i++) {
            if (names(i, a.w0(), a.w1(), a.w2(), a.w3())) {
                return true;
            }
        }
        return false;
    }

    /** Logical size: the sum of its files, whether or not their blobs are shared. */
    public long bytes() {
        return bytes;
    }

    public long created() {
        return created;
    }

    public long lastUse() {
        return lastUse;
    }

    /** Where it came from (group, source, time), recorded at ingest. */
    public String provenance() {
        if (provenanceAt == Long.MIN_VALUE) {
            return provenance;
        }
        return provenance
                + AT
                + Instant.ofEpochSecond(
                        Math.floorDiv(provenanceAt, 1_000_000_000L), Math.floorMod(provenanceAt, 1_000_000_000L));
    }

    /**
     * The time after the last {@code " at="} as epoch nanoseconds when it is exactly what
     * {@link Instant#toString()} prints (so {@link #provenance()} gives the same text back); else
     * MIN_VALUE and the provenance is kept whole. Parsed by hand: a replay meets millions.
     */
    static long timeOf(String p) {
        int i = p.lastIndexOf(AT);
        if (i < 0) {
            return Long.MIN_VALUE;
        }
        int s = i + AT.length();
        int n = p.length() - s;
        // yyyy-MM-ddTHH:mm:ssZ, or with a fraction of 3, 6 or 9 digits before the Z
        if (n < 20
                || p.charAt(p.length() - 1) != 'Z'
                || p.charAt(s + 4) != '-'
                || p.charAt(s + 7) != '-'
                || p.charAt(s + 10) != 'T'
                || p.charAt(s + 13) != ':'
                || p.charAt(s + 16) != ':') {
            return Long.MIN_VALUE;
        }
        int digits = n - 20 == 0 ? 0 : n - 21;
        if (digits != 0 && (p.charAt(s + 19) != '.' || (digits != 3 && digits != 6 && digits != 9))) {
            return Long.MIN_VALUE;
        }
        int year = num(p, s, 4);
        int month = num(p, s + 5, 2);
        int day = num(p, s + 8, 2);
        int hour = num(p, s + 11, 2);
        int minute = num(p, s + 14, 2);
        int second = num(p, s + 17, 2);
        int fraction = digits == 0 ? 0 : num(p, s + 20, digits);
        if ((year | month | day | hour | minute | second | fraction) < 0
                || year < 1000
                || hour > 23
                || minute > 59
                || second > 59) {
            return Long.MIN_VALUE;
        }
        if (digits > 0 && fraction % 1000 == 0 && (digits > 3 || fraction == 0)) {
            return Long.MIN_VALUE; // not how Instant prints it (it drops a trailing 000 group)
        }
        long nano = fraction * (digits == 3 ? 1_000_000L : digits == 6 ? 1_000L : 1L);
        try {
            long epoch =
                    LocalDateTime.of(year, month, day, hour, minute, second).toEpochSecond(ZoneOffset.UTC);
            long at = Math.addExact(Math.multiplyExact(epoch, 1_000_000_000L), nano);
            return at == Long.MIN_VALUE ? Long.MIN_VALUE : at;
        } catch (DateTimeException | ArithmeticException e) {
            return Long.MIN_VALUE;
        }
    }

    /** {@code len} decimal digits at {@code from}, or -1. */
    private static int num(String p, int from, int len) {
        int v = 0;
        for (int i = from; i < from + len; i++) {
            char c = p.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    @Override
    public String toString() {
        return key() + " (" + fileCount() + " files, " + bytes + " B)";
    }

    /** An unmodifiable view of the files built by {@link #files()}. */
    private static final class Files extends AbstractList<EntryFile> implements RandomAccess {
        private final EntryFile[] files;

        Files(EntryFile[] files) {
            this.files = files;
        }

        @Override
        public EntryFile get(int i) {
            return files[i];
        }

        @Override
        public int size() {
            return files.length;
        }
    }
}
