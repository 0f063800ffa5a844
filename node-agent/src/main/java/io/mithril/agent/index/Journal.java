package io.mithril.agent.index;

import io.mithril.agent.cas.Address;
import io.mithril.agent.key.GroupId;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The index journal: an append-only file of length- and CRC32C-framed records.
 *
 * <p>Frame: {@code int payloadLength, int crc32c(payload), payload}. A crash can leave a torn last
 * frame (short, or with a wrong CRC); {@link #replay} stops at the first frame that does not check
 * and reports its offset, and the caller truncates there under the store lock. A record is
 * committed once its frame is written and the file forced; nothing after a torn frame can exist,
 * because appends happen only under the store's exclusive lock and each append ends with a force.
 *
 * <p>Not thread-safe: the store calls it under its lock.
 */
public final class Journal implements Closeable {

    private static final int COMMIT = 1;
    private static final int REMOVE = 2;
    private static final int TOUCH = 3;
    /** Frames larger than this are treated as torn: no legitimate record comes close. */
    static final int MAX_FRAME = 64 << 20;

    private final Path file;
    private final FileChannel channel;
    private final Map<String, GroupId> groupIntern = new HashMap<>();

    public Journal(Path file) throws IOException {
        this.file = file;
        this.channel =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    public Path file() {
        return file;
    }

    public long size() throws IOException {
        return channel.size();
    }

    /** Result of a replay: where the valid records end, and whether a torn frame followed. */
    public record Replay(long endOffset, int records, boolean torn, boolean undecodable) {
        Replay(long endOffset, int records, boolean torn) {
            this(endOffset, records, torn, false);
        }
    }

    /** Reads every valid record from {@code offset}, in order, until the end or a torn frame. */
    public Replay replay(long offset, Consumer<JournalRecord> sink) throws IOException {
        long size = channel.size();
        if (offset >= size) {
            return new Replay(offset, 0, false);
        }
        channel.position(offset);
        InputStream raw = new BufferedInputStream(Channels.newInputStream(channel), 1 << 20);
        DataInputStream in = new DataInputStream(raw);
        long pos = offset;
        int n = 0;
        CRC32C crc = new CRC32C();
        while (pos < size) {
            if (size - pos < 8) {
                return new Replay(pos, n, true);
            }
            int len = in.readInt();
            int sum = in.readInt();
            if (len <= 0 || len > MAX_FRAME || len > size - pos - 8) {
                return new Replay(pos, n, true);
            }
            byte[] payload = new byte[len];
            in.readFully(payload);
            crc.reset();
            crc.update(payload, 0, len);
            if ((int) crc.getValue() != sum) {
                return new Replay(pos, n, true);
            }
            JournalRecord r;
            try {
                r = decode(payload);
            } catch (IOException | IllegalArgumentException e) {
                // A frame whose CRC checks but that does not decode was written whole by a newer (or
                // broken) agent: it is not a torn tail, and cutting it off would lose commits.
                return new Replay(pos, n, false, true);
            }
            sink.accept(r);
            pos += 8 + len;
            n++;
        }
        return new Replay(pos, n, false);
    }

    /** Cuts a torn tail off. Only under the store lock, with no other writer. */
    public void truncate(long offset) throws IOException {
        channel.truncate(offset);
        channel.force(true);
    }

    /** Appends records at the end; with {@code force} they are durable when this returns. */
    public void append(List<? extends JournalRecord> records, boolean force) throws IOException {
        if (records.isEmpty()) {
            return;
        }
        ByteArrayOutputStream frames = new ByteArrayOutputStream(records.size() * 128);
        DataOutputStream out = new DataOutputStream(frames);
        CRC32C crc = new CRC32C();
        for (JournalRecord r : records) {
            byte[] payload = encode(r);
            crc.reset();
            crc.update(payload, 0, payload.length);
            out.writeInt(payload.length);
            out.writeInt((int) crc.getValue());
            out.write(payload);
        }
        ByteBuffer buf = ByteBuffer.wrap(frames.toByteArray());
        long start = channel.size();
        long pos = start;
        try {
            while (buf.hasRemaining()) {
                pos += channel.write(buf, pos);
            }
            if (force) {
                channel.force(false);
            }
        } catch (IOException e) {
            // Disk full or I/O error mid-append: cut back to where this append began so the journal
            // stays a clean prefix of whole records, then report. If even that fails, the next
            // replay stops at the torn frame.
            try {
                channel.truncate(start);
            } catch (IOException ignored) {
                // replay discards the torn tail
            }
            throw e;
        }
    }

    static byte[] encode(JournalRecord r) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(96);
        DataOutputStream out = new DataOutputStream(b);
        if (r instanceof JournalRecord.Commit c) {
            out.writeByte(COMMIT);
            key(out, c.key());
            out.writeLong(c.created());
            out.writeLong(c.lastUse());
            str(out, c.provenance());
            out.writeInt(c.files().size());
            for (EntryFile f : c.files()) {
                str(out, f.path());
                out.write(f.address().toBytes());
                out.writeLong(f.size());
                out.writeBoolean(f.executable());
            }
        } else if (r instanceof JournalRecord.Remove rm) {
            out.writeByte(REMOVE);
            key(out, rm.key());
            out.writeByte(rm.cause().ordinal());
        } else if (r instanceof JournalRecord.Touch t) {
            out.writeByte(TOUCH);
            key(out, t.key());
            out.writeLong(t.time());
        }
        return b.toByteArray();
    }

    JournalRecord decode(byte[] payload) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload));
        int type = in.readUnsignedByte();
        EntryKey key = new EntryKey(group(in.readUTF()), in.readUTF());
        switch (type) {
            case COMMIT -> {
                long created = in.readLong();
                long lastUse = in.readLong();
                String prov = in.readUTF();
                int n = in.readInt();
                if (n <= 0 || n > 1_000_000) {
                    throw new IOException("bad file count " + n);
                }
                List<EntryFile> files = new ArrayList<>(n);
                byte[] addr = new byte[Address.BYTES];
                for (int i = 0; i < n; i++) {
                    String path = in.readUTF();
                    in.readFully(addr);
                    files.add(new EntryFile(path, Address.fromBytes(addr), in.readLong(), in.readBoolean()));
                }
                return new JournalRecord.Commit(key, created, lastUse, files, prov);
            }
            case REMOVE -> {
                return new JournalRecord.Remove(key, EvictionCause.of(in.readUnsignedByte()));
            }
            case TOUCH -> {
                return new JournalRecord.Touch(key, in.readLong());
            }
            default -> throw new IOException("unknown record type " + type);
        }
    }

    private GroupId group(String text) {
        GroupId g = groupIntern.get(text);
        if (g == null) {
            g = GroupId.parse(text);
            groupIntern.put(text, g);
        }
        return g;
    }

    private static void key(DataOutputStream out, EntryKey k) throws IOException {
        str(out, k.group().text());
        str(out, k.name());
    }

    private static void str(DataOutputStream out, String s) throws IOException {
        if (s.getBytes(StandardCharsets.UTF_8).length > 65535) {
            throw new IOException("string too long for the journal");
        }
        out.writeUTF(s);
    }

    public void force() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
