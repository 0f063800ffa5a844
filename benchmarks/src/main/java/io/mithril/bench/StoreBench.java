package io.mithril.bench;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import io.mithril.agent.index.Journal;
import io.mithril.agent.index.JournalRecord;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prints the content store's figures, side by side in one run:
 * <ol>
 *   <li>index rebuild after a restart with N blobs and entries (journal replay + blob scan), and the
 *       heap the open store holds per single-file entry;</li>
 *   <li>lookup latency in that index (p50, p99, p99.9);</li>
 *   <li>time to evict 10 % of the entries;</li>
 *   <li>put throughput on ~1 GiB of files drawn from the fixture's size distribution, against
 *       {@code b3sum --num-threads 1} and against hashing alone.</li>
 * </ol>
 * Usage: {@code StoreBench WORKDIR [entries] [putBytes] [fixtureManifest]}. With {@code entries}
 * written as {@code 2000000f}, the index part uses entries of the fixture's shapes instead (see
 * {@link #shapeFigures}); {@code putBytes} 0 skips the put part.
 */
public final class StoreBench {

    public static void main(String[] args) throws Exception {
        Path work = Files.createDirectories(Path.of(args[0]));
        String entries = args.length > 1 ? args[1] : "1000000";
        boolean shapes = entries.endsWith("f") || entries.endsWith("s");
        singleOnly = entries.endsWith("s");
        int n = Integer.parseInt(shapes ? entries.substring(0, entries.length() - 1) : entries);
        long putBytes = args.length > 2 ? Long.parseLong(args[2]) : 1L << 30;
        Path manifest =
                args.length > 3 ? Path.of(args[3]) : Path.of("../shared/fixtures/torch211-h100-gpt12l/manifest.json");
        System.out.printf(
                Locale.ROOT,
                "# StoreBench: %d entries%s, %d MiB put set, java %s, %d cpus, max heap %d MiB%n",
                n,
                shapes ? " of the fixture's shapes" : "",
                putBytes >> 20,
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20);
        if (n > 0 && shapes) {
            shapeFigures(work.resolve("shapes"), n);
        } else if (n > 0) {
            indexFigures(work.resolve("index"), n);
        }
        if (putBytes > 0) {
            putFigures(work.resolve("put"), putBytes, manifest);
        }
    }

    static final GroupId[] GROUPS = {
        new GroupId("bench", "llm", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3")),
        new GroupId("bench", "llm", new DeviceClass.CudaCompute(8, 0), GpuProduct.of("NVIDIA A100-SXM4-80GB")),
        new GroupId("bench", "vision", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3")),
        new GroupId("other", "llm", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3")),
    };

    /** Heap in use after full collections (repeated until it stops shrinking), in bytes. */
    static long heapUsed() {
        MemoryMXBean m = ManagementFactory.getMemoryMXBean();
        long last = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            System.gc();
            long used = m.getHeapMemoryUsage().getUsed();
            if (used >= last) {
                return used;
            }
            last = used;
        }
        return last;
    }

    static EntryKey key(int i) {
        return new EntryKey(GROUPS[i % GROUPS.length], "triton/K" + Integer.toString(i, 36) + "/");
    }

    /** Times a million lookups of the keys {@code draw} gives and prints their percentiles. */
    static void lookups(NodeStore s, IntFunction<EntryKey> draw, String label) {
        int samples = 1_000_000;
        long[] lat = new long[samples];
        int found = 0;
        for (int i = 0; i < samples; i++) {
            EntryKey k = draw.apply(i);
            long a = System.nanoTime();
            boolean hit = s.lookup(k) != null;
            lat[i] = System.nanoTime() - a;
            found += hit ? 1 : 0;
        }
        Arrays.sort(lat);
        System.out.printf(
                Locale.ROOT,
                "%s: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.1f us (%d/%d found)%n",
                label,
                lat[samples / 2] / 1e3,
                lat[samples * 99 / 100] / 1e3,
                lat[samples * 999 / 1000] / 1e3,
                lat[samples - 1] / 1e3,
                found,
                samples);
    }

    /** A fresh store's layout at {@code root} (generation 1, no journal yet); returns its blob folder. */
    static Path emptyStore(Path root) throws IOException {
        deleteTree(root);
        Files.createDirectories(root);
        Files.writeString(root.resolve("mithril-store"), "format 1\n");
        Files.writeString(root.resolve("CURRENT"), "1\n");
        Path blobs = Files.createDirectories(root.resolve("blobs"));
        for (int s = 0; s < 256; s++) {
            Files.createDirectories(blobs.resolve(String.format("%02x", s)));
        }
        return blobs;
    }

    /** Writes N blobs and a journal committing one single-file entry per blob, as a long-lived node would have. */
    static void indexFigures(Path root, int n) throws Exception {
        long t0 = System.nanoTime();
        Path blobs = emptyStore(root);
        try (Journal j = new Journal(root.resolve("journal.1"))) {
            List<JournalRecord> batch = new ArrayList<>(10_000);
            ByteBuffer content = ByteBuffer.allocate(64);
            for (int i = 0; i < n; i++) {
                content.clear();
                content.putInt(i).putLong(0x5eedL * i);
                byte[] b = Arrays.copyOf(content.array(), 12 + (i % 52));
                Address a = Blake3.hash(b);
                Files.write(blobs.resolve(a.shard()).resolve(a.hex()), b);
                batch.add(new JournalRecord.Commit(
                        key(i), i, i, List.of(new EntryFile("k.cubin", a, b.length, false)), "bench"));
                if (batch.size() == 10_000) {
                    j.append(batch, false);
                    batch.clear();
                }
            }
            j.append(batch, true);
        }
        System.out.printf(Locale.ROOT, "setup: wrote %d blobs and journal in %.1f s%n", n, secs(t0));

        dropCaches();
        long heapBefore = heapUsed();
        t0 = System.nanoTime();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withReconcileOnOpen(false))) {
            double replay = secs(t0);
            System.out.printf(
                    Locale.ROOT,
                    "open, journal replay only:        %6.2f s  (%d entries)%n",
                    replay,
                    s.stats().entries());
            long heap = heapUsed() - heapBefore;
            System.out.printf(
                    Locale.ROOT,
                    "heap held by the open store:       %6.1f MiB = %d bytes per single-file entry (index estimate %d)%n",
                    heap / 1048576.0,
                    heap / n,
                    (Index.ENTRY_HEAP + Index.FILE_HEAP + Index.BLOB_HEAP));
        }
        Files.deleteIfExists(root.resolve("clean")); // as after a crash: no clean-close marker
        dropCaches();
        t0 = System.nanoTime();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            System.out.printf(
                    Locale.ROOT,
                    "open after a crash, full rebuild (replay+scan): %6.2f s  (%d entries, %d blobs)%n",
                    secs(t0),
                    s.stats().entries(),
                    s.stats().blobs());
        }
        dropCaches();
        t0 = System.nanoTime();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            System.out.printf(
                    Locale.ROOT,
                    "open after a clean close (replay, no scan):     %6.2f s  (%d entries, scan skipped: %s)%n",
                    secs(t0),
                    s.stats().entries(),
                    s.openedClean());

            Random rnd = new Random(1);
            for (int w = 0; w < 200_000; w++) {
                s.lookup(key(rnd.nextInt(n)));
            }
            lookups(s, i -> key(rnd.nextInt(n)), "lookup in " + n + " entries");

            long before = s.stats().bytes();
            t0 = System.nanoTime();
            int evicted = s.evictTo(before - before / 10).size();
            System.out.printf(
                    Locale.ROOT, "evict 10%%: %d entries (and their blob files) in %.2f s%n", evicted, secs(t0));
        }
    }

    /** A Triton kernel folder's eight files, as in the fixture ({@code K} the kernel's name). */
    static final String[] TRITON = {
        "__grp__K.json", "K.cubin", "K.json", "K.llir", "K.ptx", "K.source", "K.ttgir", "K.ttir"
    };

    static final String[] KERNELS = {
        "triton_per_fused_embedding_dense_backward_sum_view_",
        "triton_red_fused__to_copy_native_layer_norm_backward_view_",
        "triton_poi_fused_add_mul_tanh_pow_",
        "triton_tem_fused_mm_t_view_",
        "triton_per_fused__log_softmax_nll_loss_forward_"
    };
    static final String B32 = "abcdefghijklmnopqrstuvwxyz234567";

    /** {@code len} base32 characters drawn from {@code rnd}, as Inductor and Triton name their hashes. */
    static String b32(Random rnd, int len) {
        char[] c = new char[len];
        for (int i = 0; i < len; i++) {
            c[i] = B32.charAt(rnd.nextInt(32));
        }
        return new String(c);
    }

    /**
     * Entry {@code i} of the fixture's shapes: 3 in 7 a single Inductor module
     * ({@code inductor/xy/c<51>.py}), the others a Triton kernel folder of eight files
     * ({@code triton/<52>/}), so that 2,000,000 entries hold 10,000,000 files; every file its own blob,
     * provenance as the ingester writes it.
     */
    /** {@code 2000000s}: the shapes mode with single-file entries only. */
    static boolean singleOnly;

    static JournalRecord.Commit shaped(int i, Random rnd, long time) {
        GroupId g = GROUPS[i % GROUPS.length];
        String prov = "group=" + g.text() + " source=pod default/vllm-" + (i % 7) + " at="
                + Instant.ofEpochSecond(1_780_000_000L + i / 50, (i % 50) * 20_000_000L + rnd.nextInt(1000) * 1000);
        List<EntryFile> files = new ArrayList<>(8);
        String name;
        if (singleOnly || i % 7 < 3) {
            String h = "c" + b32(rnd, 51);
            name = "inductor/" + h.substring(1, 3) + "/" + h + ".py";
            files.add(new EntryFile(h + ".py", randomAddress(rnd), 2000 + rnd.nextInt(3000), false));
        } else {
            name = "triton/" + b32(rnd, 52).toUpperCase(Locale.ROOT) + "/";
            String k = KERNELS[rnd.nextInt(KERNELS.length)] + rnd.nextInt(200);
            for (String f : TRITON) {
                files.add(new EntryFile(f.replace("K", k), randomAddress(rnd), 500 + rnd.nextInt(20_000), false));
            }
        }
        return new JournalRecord.Commit(new EntryKey(g, name), time, time, files, prov);
    }

    static Address randomAddress(Random rnd) {
        return new Address(rnd.nextLong(), rnd.nextLong(), rnd.nextLong(), rnd.nextLong());
    }

    /**
     * The index at a node's scale without writing ten million blob files: a journal of N entries of
     * the fixture's shapes and the clean-close marker, opened without the reconcile (it would find
     * no blobs: after a replay that evicted for memory it would run even after a clean close). Measures the open, the heap per entry and per file, lookups, a commit of
     * new entries (with real blobs), eviction of 10 %, the clean close and the reopen after it.
     */
    static void shapeFigures(Path root, int n) throws Exception {
        long t0 = System.nanoTime();
        emptyStore(root);
        long files = 0;
        try (Journal j = new Journal(root.resolve("journal.1"))) {
            List<JournalRecord> batch = new ArrayList<>(10_000);
            Random rnd = new Random(11);
            for (int i = 0; i < n; i++) {
                JournalRecord.Commit c = shaped(i, rnd, i);
                files += c.files().size();
                batch.add(c);
                if (batch.size() == 10_000) {
                    j.append(batch, false);
                    batch.clear();
                }
            }
            j.append(batch, true);
        }
        Files.writeString(root.resolve("clean"), "");
        System.out.printf(
                Locale.ROOT,
                "setup: journal of %d entries, %d files (%.0f MB) in %.1f s%n",
                n,
                files,
                Files.size(root.resolve("journal.1")) / 1e6,
                secs(t0));
        dropCaches();
        long heapBefore = heapUsed();
        t0 = System.nanoTime();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withReconcileOnOpen(false))) {
            double open = secs(t0);
            StoreStats st = s.stats();
            System.out.printf(
                    Locale.ROOT,
                    "open (clean marker, journal replay): %6.2f s  (%d entries, %d blobs, %d evicted for memory, index heap limit %d MiB)%n",
                    open,
                    st.entries(),
                    st.blobs(),
                    st.evictions().get(EvictionCause.MEMORY),
                    s.config().indexHeap() >> 20);
            long heap = heapUsed() - heapBefore;
            long kept = st.entries();
            long keptFiles = kept == n ? files : -1;
            System.out.printf(
                    Locale.ROOT,
                    "heap held by the open store: %6.1f MiB = %d bytes per entry%s%n",
                    heap / 1048576.0,
                    heap / Math.max(1, kept),
                    keptFiles < 0
                            ? ""
                            : String.format(
                                    Locale.ROOT,
                                    ", %.1f bytes per file all in (%.2f files per entry)",
                                    heap / (double) keptFiles,
                                    keptFiles / (double) kept));
            System.out.printf(
                    Locale.ROOT,
                    "index estimate %.1f MiB of heap; mapped from disk %.1f MiB = %d bytes per entry%n",
                    st.indexHeapBytes() / 1048576.0,
                    st.indexMappedBytes() / 1048576.0,
                    st.indexMappedBytes() / Math.max(1, kept));

            Random rnd = new Random(1);
            List<EntryKey> keys = new ArrayList<>(); // every 20th key, drawn again as the setup drew them
            Random again = new Random(11);
            for (int i = 0; i < n; i++) {
                EntryKey k = shaped(i, again, i).key();
                if (i % 20 == 0) {
                    keys.add(k);
                }
            }
            lookups(
                    s,
                    i -> rnd.nextInt(4) == 0
                            ? new EntryKey(GROUPS[0], "triton/MISS" + i + "/")
                            : keys.get(rnd.nextInt(keys.size())),
                    "lookup, 1 in 4 a miss");

            // ingest: 2,000 new entries of the same shapes with real blobs, committed 256 to a batch
            t0 = System.nanoTime();
            List<NodeStore.Pending> pending = new ArrayList<>();
            int committed = 0;
            Random r2 = new Random(99);
            for (int i = 0; i < 2000; i++) {
                JournalRecord.Commit c = shaped(n + i, r2, 0);
                List<EntryFile> real = new ArrayList<>();
                for (EntryFile f : c.files()) {
                    byte[] b = (c.key() + "/" + f.path()).getBytes();
                    real.add(new EntryFile(f.path(), s.put(b), b.length, false));
                }
                pending.add(new NodeStore.Pending(c.key(), real, c.provenance()));
                if (pending.size() == 256 || i == 1999) {
                    for (NodeStore.Outcome o : s.commitAll(pending)) {
                        committed += o.error() == null ? 1 : 0;
                    }
                    pending.clear();
                }
            }
            st = s.stats();
            System.out.printf(
                    Locale.ROOT,
                    "ingest: put + commit %d new entries in %.2f s (%d entries now, %d evicted for memory)%n",
                    committed,
                    secs(t0),
                    st.entries(),
                    st.evictions().get(EvictionCause.MEMORY));

            long before = st.bytes();
            t0 = System.nanoTime();
            int evicted = s.evictTo(before - before / 10).size();
            System.out.printf(Locale.ROOT, "evict 10%% of the bytes: %d entries in %.2f s%n", evicted, secs(t0));
            t0 = System.nanoTime();
        }
        System.out.printf(Locale.ROOT, "clean close: %.2f s%n", secs(t0));
        dropCaches();
        heapBefore = heapUsed();
        t0 = System.nanoTime();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withReconcileOnOpen(false))) {
            double reopen = secs(t0);
            int kept = s.stats().entries();
            System.out.printf(
                    Locale.ROOT,
                    "reopen after the clean close: %6.2f s  (%d entries, scan skipped: %s), heap %d bytes per entry%n",
                    reopen,
                    kept,
                    s.openedClean(),
                    (heapUsed() - heapBefore) / Math.max(1, kept));
        }
        deleteTree(root);
    }

    static void putFigures(Path dir, long total, Path manifest) throws Exception {
        deleteTree(dir);
        Path src = Files.createDirectories(dir.resolve("src"));
        long[] sizes = fixtureSizes(manifest);
        Random rnd = new Random(7);
        List<Path> files = new ArrayList<>();
        long sum = 0;
        byte[] buf = new byte[1 << 20];
        while (sum < total) {
            long size = sizes[rnd.nextInt(sizes.length)];
            Path f = src.resolve(files.size() + ".bin");
            try (var out = Files.newOutputStream(f)) {
                long left = size;
                while (left > 0) {
                    int k = (int) Math.min(left, buf.length);
                    rnd.nextBytes(buf);
                    out.write(buf, 0, k);
                    left -= k;
                }
            }
            files.add(f);
            sum += size;
        }
        double mb = sum / 1e6;
        System.out.printf(
                Locale.ROOT,
                "put set: %d files, %.0f MB, sizes sampled from %s (%d files)%n",
                files.size(),
                mb,
                manifest.getFileName(),
                sizes.length);

        long t0 = System.nanoTime();
        List<String> cmd = new ArrayList<>(List.of("b3sum", "--num-threads", "1", "--no-names"));
        files.forEach(f -> cmd.add(f.toString()));
        Process p = new ProcessBuilder(cmd)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        p.waitFor();
        double b3 = secs(t0);
        t0 = System.nanoTime();
        for (Path f : files) {
            Blake3.hash(f);
        }
        double hashOnly = secs(t0);
        // I/O floor: copy each file and fsync it, as a put must, without hashing or bookkeeping.
        Path copies = Files.createDirectories(dir.resolve("copies"));
        t0 = System.nanoTime();
        int c = 0;
        for (Path f : files) {
            Path d = copies.resolve(Integer.toString(c++));
            Files.copy(f, d);
            try (FileChannel ch = FileChannel.open(d, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        }
        double copyFsync = secs(t0);
        deleteTree(copies);
        Path root = Files.createDirectories(dir.resolve("store"));
        double put;
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            t0 = System.nanoTime();
            for (Path f : files) {
                s.putFile(f);
            }
            put = secs(t0);
        }
        double put2 =
                parallelPut(dir.resolve("store2"), files, Runtime.getRuntime().availableProcessors());
        double put8 = parallelPut(dir.resolve("store8"), files, 8);
        System.out.printf(Locale.ROOT, "b3sum --num-threads 1:       %6.2f s  %7.0f MB/s  (1.00x)%n", b3, mb / b3);
        System.out.printf(
                Locale.ROOT,
                "Java BLAKE3 hash only:       %6.2f s  %7.0f MB/s  (%.2fx of b3sum)%n",
                hashOnly,
                mb / hashOnly,
                b3 / hashOnly);
        System.out.printf(
                Locale.ROOT,
                "copy + fsync each (I/O floor):%6.2f s  %7.0f MB/s  (%.2fx of b3sum)%n",
                copyFsync,
                mb / copyFsync,
                b3 / copyFsync);
        System.out.printf(
                Locale.ROOT,
                "NodeStore.putFile, 1 thread: %6.2f s  %7.0f MB/s  (%.2fx of b3sum)%n",
                put,
                mb / put,
                b3 / put);
        System.out.printf(
                Locale.ROOT,
                "NodeStore.putFile, %d threads:%6.2f s  %7.0f MB/s  (%.2fx of b3sum)%n",
                Runtime.getRuntime().availableProcessors(),
                put2,
                mb / put2,
                b3 / put2);
        System.out.printf(
                Locale.ROOT,
                "NodeStore.putFile, 8 threads:%6.2f s  %7.0f MB/s  (%.2fx of b3sum)%n",
                put8,
                mb / put8,
                b3 / put8);
        deleteTree(dir);
    }

    /** Puts every file from a pool of {@code threads} threads: fsync waits overlap, and ext4 batches them. */
    static double parallelPut(Path root, List<Path> files, int threads) throws Exception {
        Files.createDirectories(root);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            long t0 = System.nanoTime();
            List<Future<?>> fs = new ArrayList<>();
            for (Path f : files) {
                fs.add(pool.submit(() -> s.putFile(f)));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            return secs(t0);
        } finally {
            pool.shutdown();
            deleteTree(root);
        }
    }

    static long[] fixtureSizes(Path manifest) throws IOException {
        Matcher m = Pattern.compile("\"size\":\\s*(\\d+)").matcher(Files.readString(manifest));
        List<Long> out = new ArrayList<>();
        while (m.find()) {
            out.add(Long.parseLong(m.group(1)));
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    static void dropCaches() {
        try {
            new ProcessBuilder("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches")
                    .start()
                    .waitFor();
        } catch (Exception ignored) {
            // not root or not Linux: caches stay warm, which the output does not hide
        }
    }

    static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        new ProcessBuilder("rm", "-rf", p.toString())
                .inheritIO()
                .start()
                .onExit()
                .join();
    }
}
