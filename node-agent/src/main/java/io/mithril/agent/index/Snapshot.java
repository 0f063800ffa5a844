package io.mithril.agent.index;

import io.mithril.agent.key.GroupId;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The index as written at a clean close, to be read back in bulk at the next open instead of
 * replaying the journal: every entry in its compact form (no strings to decode, no names to
 * validate again, tables sized once), each group in least recently used order, with the journal
 * generation and length it stands for and a CRC32C over it all.
 *
 * <p>Only an optimisation: the journal stays the truth. The store reads a snapshot only after a
 * clean close, and only when it names the current generation and the journal's exact length;
 * anything else (a crash, another process appended, a damaged file) means a full replay.
 */
public final class Snapshot {

    private static final long MAGIC = 0x4d49534e41503031L; // "MISNAP01"

    private Snapshot() {}

    /** What a snapshot stands for. */
    public record Covers(long generation, long journalLength) {}

    /** Writes the index to {@code out} (the caller makes it durable and moves it into place). */
    public static void write(OutputStream raw, Index index, Covers covers) throws IOException {
        CRC32C crc = new CRC32C();
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
                new OutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        crc.update(b);
                        raw.write(b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        crc.update(b, off, len);
                        raw.write(b, off, len);
                    }
                },
                1 << 20));
        out.writeLong(MAGIC);
        out.writeLong(covers.generation());
        out.writeLong(covers.journalLength());
        out.writeInt(index.entryCount());
        out.writeInt(index.blobCount());
        out.writeLong(index.heapEstimate());
        List<GroupId> groups = new ArrayList<>(index.groups());
        Map<String, Integer> prefixes = new HashMap<>();
        List<String> prefixList = new ArrayList<>();
        for (GroupId g : groups) {
            for (Entry e : index.entries(g)) {
                if (e.provenanceAt() != Long.MIN_VALUE
                        && prefixes.putIfAbsent(e.provenancePart(), prefixes.size()) == null) {
                    prefixList.add(e.provenancePart());
                }
            }
        }
        out.writeInt(prefixList.size());
        for (String p : prefixList) {
            bytes(out, NameCodec.encode(p));
        }
        out.writeInt(groups.size());
        byte[] copy = new byte[1 << 16];
        for (GroupId g : groups) {
            bytes(out, g.text().getBytes(StandardCharsets.UTF_8));
            out.writeLong(index.groupLastUse(g));
            out.writeInt(index.groupEntries(g));
            for (Entry e : index.entries(g)) {
                // the record as the arena holds it: name, words, paths
                int len = e.recordLength();
                if (copy.length < len) {
                    copy = new byte[Math.max(len, copy.length * 2)];
                }
                e.chunk().buf.get(e.offset(), copy, 0, len);
                out.write(copy, 0, len);
                out.writeLong(e.created());
                out.writeLong(e.lastUse());
                out.writeLong(e.provenanceAt());
                if (e.provenanceAt() == Long.MIN_VALUE) {
                    bytes(out, NameCodec.encode(e.provenancePart()));
                } else {
                    out.writeInt(prefixes.get(e.provenancePart()));
                }
            }
        }
        out.flush();
        long sum = crc.getValue();
        new DataOutputStream(raw).writeLong(sum);
    }

    private static void bytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    /**
     * Loads the snapshot into the empty index if it stands for {@code expected}, checks whole and
     * fits {@code heapLimit} by the index's estimate; returns false (the index left empty)
     * otherwise, and the journal's replay evicts as it goes.
     */
    public static boolean read(Path file, Index index, Covers expected, long heapLimit) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 48 || size > Integer.MAX_VALUE) {
                return false;
            }
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            ByteBuffer body = map.duplicate().limit((int) size - 8);
            if (map.getLong(0) != MAGIC
                    || map.getLong(8) != expected.generation()
                    || map.getLong(16) != expected.journalLength()
                    || map.getLong(32) > heapLimit) {
                return false;
            }
            CRC32C crc = new CRC32C();
            crc.update(body.duplicate());
            if (crc.getValue() != map.getLong((int) size - 8)) {
                return false;
            }
            try {
                load(body.position(24), index);
                return true;
            } catch (RuntimeException e) {
                index.clear(); // a CRC that checks over bytes this agent cannot read: replay instead
                return false;
            }
        } catch (IOException e) {
            index.clear();
            throw e;
        }
    }

    private static void load(ByteBuffer in, Index index) {
        int entries = in.getInt();
        int blobs = in.getInt();
        in.getLong(); // the heap estimate, checked before
        index.presize(entries, blobs);
        String[] prefixes = new String[in.getInt()];
        for (int i = 0; i < prefixes.length; i++) {
            prefixes[i] = NameCodec.decode(bytes(in)).intern();
        }
        for (int groups = in.getInt(); groups > 0; groups--) {
            GroupId g = GroupId.parse(new String(bytes(in), StandardCharsets.UTF_8));
            long lastUse = in.getLong();
            for (int n = in.getInt(); n > 0; n--) {
                int at0 = in.position();
                int len = recordLength(in, at0);
                Arena.Chunk chunk = index.arena().append(in, at0, len);
                int off = index.arena().lastOffset();
                in.position(at0 + len);
                long created = in.getLong();
                long use = in.getLong();
                long at = in.getLong();
                String prov = at == Long.MIN_VALUE ? NameCodec.decode(bytes(in)).intern() : prefixes[in.getInt()];
                index.put(new Entry(g, chunk, off, created, use, prov, at));
            }
            index.restoreGroupLastUse(g, lastUse);
        }
        if (index.entryCount() != entries) {
            throw new IllegalStateException("snapshot names " + entries + " entries, holds " + index.entryCount());
        }
    }

    /** The length of the entry record at {@code at}, checked against the buffer's end. */
    private static int recordLength(ByteBuffer in, int at) {
        int name = in.getInt(at);
        checkLength(in, at + 4, name);
        int words = in.getInt(at + 4 + name);
        if (words < 0 || words > (in.limit() - at) / 8) {
            throw new IllegalStateException("bad word count in a snapshot: " + words);
        }
        int paths = in.getInt(at + 8 + name + words * 8);
        checkLength(in, at + 12 + name + words * 8, paths);
        return 12 + name + words * 8 + paths;
    }

    private static void checkLength(ByteBuffer in, int from, int len) {
        if (len < 0 || len > in.limit() - from) {
            throw new IllegalStateException("bad length in a snapshot: " + len);
        }
    }

    private static byte[] bytes(ByteBuffer in) {
        byte[] b = new byte[in.getInt()];
        in.get(b);
        return b;
    }
}
