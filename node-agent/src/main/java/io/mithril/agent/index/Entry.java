package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;
import java.nio.ByteBuffer;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * A committed entry: the unit of ingest, use and eviction. Files are immutable once committed; a
 * new commit under the same key replaces the entry as a whole (a new version). Only
 * {@link #lastUse} changes in place, and only under the index's lock.
 *
 * <p>Held compactly, since a node keeps millions of them: the name, every file's address and size
 * and the front-coded paths are one immutable record, in the index's {@link Arena} (off the heap)
 * once the entry is in an index, or in a byte array of its own before. On the heap stay the group,
 * the times, the provenance (an interned prefix plus a time) and the index's links. {@link #key()}
 * and {@link #files()} build their objects on each call; code that walks many entries uses
 * {@link #fileCount()}, {@link #address(int)} and {@link #size(int)} instead.
 *
 * <p>The record, as a snapshot also writes it: {@code int nameLength, name (UTF-8), int words,
 * words (per file the address's four longs, then the size), int pathsLength, paths}.
 */
public final class Entry {
    /** Longs per file in the record's words: the address's four, then the size. */
    static final int WORDS = 5;

    private static final String AT = " at=";

    private final GroupId group;
    private final Arena.Chunk chunk;
    private final int off;

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
        byte[] name = NameCodec.encode(key.name());
        int n = files.size();
        PathCoder paths = new PathCoder(n * 24);
        for (EntryFile f : files) {
            paths.add(f.path(), f.executable());
        }
        byte[] p = paths.toBytes();
        ByteBuffer rec = ByteBuffer.allocate(12 + name.length + n * WORDS * 8 + p.length);
        rec.putInt(name.length).put(name).putInt(n * WORDS);
        long b = 0;
        for (EntryFile f : files) {
            Address a = f.address();
            rec.putLong(a.w0()).putLong(a.w1()).putLong(a.w2()).putLong(a.w3()).putLong(f.size());
            b += f.size();
        }
        rec.putInt(p.length).put(p);
        this.chunk = Arena.Chunk.of(rec.array());
        this.off = 0;
        this.hash = hash(group, rec, 0);
        this.bytes = b;
        this.created = created;
        this.lastUse = lastUse;
        String prov = provenance == null ? "" : provenance;
        long at = timeOf(prov);
        if (at == Long.MIN_VALUE) {
            this.provenance = prov.intern(); // the same few sources across millions of entries
        } else {
            this.provenance = prov.substring(0, prov.lastIndexOf(AT)).intern();
        }
        this.provenanceAt = at;
    }

    /** A record already in {@code chunk} at {@code off} (a snapshot's, copied into the arena): checked here. */
    Entry(GroupId group, Arena.Chunk chunk, int off, long created, long lastUse, String provenance, long provenanceAt) {
        ByteBuffer buf = chunk.buf;
        int nameLength = buf.getInt(off);
        int words = buf.getInt(off + 4 + nameLength);
        if (nameLength <= 0 || words <= 0 || words % WORDS != 0) {
            throw new IllegalArgumentException("bad entry record: name " + nameLength + " B, " + words + " words");
        }
        this.group = group;
        this.chunk = chunk;
        this.off = off;
        this.hash = hash(group, buf, off);
        long b = 0;
        int w = off + 8 + nameLength;
        for (int i = 4; i < words; i += WORDS) {
            b += buf.getLong(w + i * 8);
        }
        this.bytes = b;
        this.created = created;
        this.lastUse = lastUse;
        this.provenance = provenance;
        this.provenanceAt = provenanceAt;
    }

    /** The same entry with its record in another chunk (a move: this object stays readable as it was). */
    private Entry(Entry e, Arena.Chunk chunk, int off) {
        this.group = e.group;
        this.chunk = chunk;
        this.off = off;
        this.hash = e.hash;
        this.bytes = e.bytes;
        this.created = e.created;
        this.lastUse = e.lastUse;
        this.provenance = e.provenance;
        this.provenanceAt = e.provenanceAt;
    }

    /** A copy whose record is in {@code arena} (appended there). */
    Entry copyInto(Arena arena) {
        Arena.Chunk c = arena.append(chunk.buf, off, recordLength());
        return new Entry(this, c, arena.lastOffset());
    }

    Arena.Chunk chunk() {
        return chunk;
    }

    int offset() {
        return off;
    }

    /** The record's length in bytes. */
    int recordLength() {
        return pathsAt() + 4 + chunk.buf.getInt(pathsAt()) - off;
    }

    /** Where the record's words start. */
    private int wordsAt() {
        return off + 8 + chunk.buf.getInt(off);
    }

    private int pathsAt() {
        int w = wordsAt();
        return w + chunk.buf.getInt(w - 4) * 8;
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

    /** The same as {@link #hash(GroupId, byte[])} over the name of the record at {@code off}. */
    private static int hash(GroupId group, ByteBuffer buf, int off) {
        int h = group.hashCode();
        for (int i = off + 4, end = i + buf.getInt(off); i < end; i++) {
            h = 31 * h + buf.get(i);
        }
        return h ^ (h >>> 16);
    }

    /** Whether this entry's key is {@code group} and {@code name} (UTF-8). */
    boolean is(GroupId group, byte[] name, int hash) {
        if (this.hash != hash || chunk.buf.getInt(off) != name.length || !this.group.equals(group)) {
            return false;
        }
        ByteBuffer b = chunk.buf;
        for (int i = 0, at = off + 4; i < name.length; i++) {
            if (b.get(at + i) != name[i]) {
                return false;
            }
        }
        return true;
    }

    /** Whether this entry has the same key as {@code e}. */
    boolean sameKey(Entry e) {
        int n = chunk.buf.getInt(off);
        return hash == e.hash
                && n == e.chunk.buf.getInt(e.off)
                && group.equals(e.group)
                && chunk.buf.slice(off + 4, n).equals(e.chunk.buf.slice(e.off + 4, n));
    }

    public EntryKey key() {
        byte[] name = new byte[chunk.buf.getInt(off)];
        chunk.buf.get(off + 4, name);
        return new EntryKey(group, NameCodec.decode(name));
    }

    public GroupId group() {
        return group;
    }

    /** The entry's files, in commit order (a new list on each call). */
    public List<EntryFile> files() {
        EntryFile[] out = new EntryFile[fileCount()];
        int p = pathsAt();
        PathCoder.Reader r = new PathCoder.Reader(chunk.buf, p + 4, chunk.buf.getInt(p));
        for (int i = 0; i < out.length; i++) {
            String path = r.next();
            out[i] = new EntryFile(path, address(i), size(i), r.executable());
        }
        return new Files(out);
    }

    public int fileCount() {
        return chunk.buf.getInt(wordsAt() - 4) / WORDS;
    }

    public Address address(int i) {
        ByteBuffer b = chunk.buf;
        int w = wordsAt() + i * WORDS * 8;
        return new Address(b.getLong(w), b.getLong(w + 8), b.getLong(w + 16), b.getLong(w + 24));
    }

    public long size(int i) {
        return chunk.buf.getLong(wordsAt() + (i * WORDS + 4) * 8);
    }

    /** Whether any file's blob is {@code a}. */
    public boolean refersTo(Address a) {
        ByteBuffer b = chunk.buf;
        int w = wordsAt();
        for (int i = 0, n = fileCount(); i < n; i++, w += WORDS * 8) {
            if (b.getLong(w) == a.w0()
                    && b.getLong(w + 8) == a.w1()
                    && b.getLong(w + 16) == a.w2()
                    && b.getLong(w + 24) == a.w3()) {
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
