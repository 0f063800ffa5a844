package io.mithril.bench;

import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.JournalRecord;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A quick prototype of the alternative to the in-memory index: the entries and the blob table in
 * RocksDB (rocksdbjni), keyed by group and name and by address. Loads N entries of
 * {@link StoreBench#shaped the fixture's shapes}, closes, reopens and looks up, printing heap, RSS,
 * open time and disk. Only the storage half: the LRU order would be a third column family
 * (last use, key) rewritten on every use. Usage: {@code KvBench WORKDIR [entries]}.
 */
public final class KvBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 2_000_000;
        StoreBench.deleteTree(dir);
        Files.createDirectories(dir);
        RocksDB.loadLibrary();
        System.out.printf(
                Locale.ROOT,
                "# KvBench: RocksDB %s, %d entries of the fixture's shapes, max heap %d MiB%n",
                RocksDB.rocksdbVersion(),
                n,
                Runtime.getRuntime().maxMemory() >> 20);
        long heap0 = StoreBench.heapUsed();
        long rss0 = rss();
        long t0 = System.nanoTime();
        long files = 0;
        try (Db db = new Db(dir);
                WriteOptions wo = new WriteOptions()) {
            Random rnd = new Random(11);
            WriteBatch batch = new WriteBatch();
            for (int i = 0; i < n; i++) {
                JournalRecord.Commit c = StoreBench.shaped(i, rnd, i);
                files += c.files().size();
                batch.put(db.entries, key(c), value(c));
                for (EntryFile f : c.files()) {
                    batch.put(db.blobs, f.address().toBytes(), sizeAndRefs(f.size(), 1));
                }
                if (i % 1000 == 999) {
                    db.db.write(wo, batch);
                    batch.close();
                    batch = new WriteBatch();
                }
            }
            db.db.write(wo, batch);
            batch.close();
            System.out.printf(
                    Locale.ROOT,
                    "load: %d entries, %d files in %.1f s; heap +%.0f MiB, RSS +%.0f MiB%n",
                    n,
                    files,
                    StoreBench.secs(t0),
                    (StoreBench.heapUsed() - heap0) / 1048576.0,
                    (rss() - rss0) / 1048576.0);
        }
        System.out.printf(Locale.ROOT, "on disk after close: %.0f MB%n", du(dir) / 1e6);
        StoreBench.dropCaches();
        heap0 = StoreBench.heapUsed();
        rss0 = rss();
        t0 = System.nanoTime();
        try (Db db = new Db(dir)) {
            double open = StoreBench.secs(t0);
            System.out.printf(
                    Locale.ROOT,
                    "reopen: %.2f s; heap +%.1f MiB, RSS +%.0f MiB%n",
                    open,
                    (StoreBench.heapUsed() - heap0) / 1048576.0,
                    (rss() - rss0) / 1048576.0);
            List<byte[]> keys = new ArrayList<>();
            Random again = new Random(11);
            for (int i = 0; i < n; i++) {
                JournalRecord.Commit c = StoreBench.shaped(i, again, i);
                if (i % 20 == 0) {
                    keys.add(key(c));
                }
            }
            Random rnd = new Random(1);
            int samples = 300_000;
            long[] lat = new long[samples];
            int found = 0;
            for (int i = 0; i < samples; i++) {
                byte[] k = keys.get(rnd.nextInt(keys.size()));
                long a = System.nanoTime();
                byte[] v = db.db.get(db.entries, k);
                lat[i] = System.nanoTime() - a;
                found += v != null ? 1 : 0;
            }
            Arrays.sort(lat);
            System.out.printf(
                    Locale.ROOT,
                    "lookup (cold then warming, get of the entry): p50 %.2f us, p99 %.2f us, p99.9 %.2f us (%d/%d found)%n",
                    lat[samples / 2] / 1e3,
                    lat[samples * 99 / 100] / 1e3,
                    lat[samples * 999 / 1000] / 1e3,
                    found,
                    samples);
            keys.clear();
            System.out.printf(
                    Locale.ROOT,
                    "after lookups: heap %.1f MiB above the reopen's start, RSS +%.0f MiB%n",
                    (StoreBench.heapUsed() - heap0) / 1048576.0,
                    (rss() - rss0) / 1048576.0);
        }
        StoreBench.deleteTree(dir);
    }

    /** The database with its two column families. */
    static final class Db implements AutoCloseable {
        final RocksDB db;
        final ColumnFamilyHandle entries;
        final ColumnFamilyHandle blobs;
        private final List<ColumnFamilyHandle> handles = new ArrayList<>();
        private final DBOptions options;

        Db(Path dir) throws Exception {
            options = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
            List<ColumnFamilyDescriptor> cfs = List.of(
                    new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY),
                    new ColumnFamilyDescriptor("entries".getBytes(StandardCharsets.UTF_8)),
                    new ColumnFamilyDescriptor("blobs".getBytes(StandardCharsets.UTF_8)));
            db = RocksDB.open(options, dir.toString(), cfs, handles);
            entries = handles.get(1);
            blobs = handles.get(2);
        }

        @Override
        public void close() {
            handles.forEach(ColumnFamilyHandle::close);
            db.close();
            options.close();
        }
    }

    static byte[] key(JournalRecord.Commit c) {
        return (c.key().group().text() + "\u0000" + c.key().name()).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] value(JournalRecord.Commit c) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        DataOutputStream out = new DataOutputStream(b);
        out.writeLong(c.created());
        out.writeLong(c.lastUse());
        out.writeUTF(c.provenance());
        out.writeInt(c.files().size());
        for (EntryFile f : c.files()) {
            out.writeUTF(f.path());
            out.write(f.address().toBytes());
            out.writeLong(f.size());
            out.writeBoolean(f.executable());
        }
        return b.toByteArray();
    }

    static byte[] sizeAndRefs(long size, int refs) {
        byte[] v = new byte[12];
        for (int i = 0; i < 8; i++) {
            v[i] = (byte) (size >>> (56 - 8 * i));
        }
        for (int i = 0; i < 4; i++) {
            v[8 + i] = (byte) (refs >>> (24 - 8 * i));
        }
        return v;
    }

    /** This process's resident set, from /proc/self/status. */
    static long rss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    static long du(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
    }
}
