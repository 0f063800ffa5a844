package io.mithril.agent.store;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;

/**
 * A child process that works a store until it is killed or done: puts, commits, uses, pins,
 * deletions and group-budget evictions. It prints {@code ACK name addr,addr} only after a commit
 * into the {@code keep} group returned, so the parent knows what must survive a SIGKILL.
 *
 * <p>Args: {@code root mode seed [threads iterations]}; mode {@code crash} runs forever,
 * {@code concurrent} runs threads x iterations commits and prints {@code DONE}.
 */
public final class StoreWorker {

    public static final GroupId KEEP =
            new GroupId("crash", "keep", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("h100"));
    public static final GroupId CHURN =
            new GroupId("crash", "churn", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("h100"));

    /** Content drawn from a small pool, so processes and entries share blobs. */
    static byte[] pooled(int i) {
        return StoreFixture.bytes(1_000_000 + i, 1 + (i * 7919) % 32_768);
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        String mode = args[1];
        long seed = Long.parseLong(args[2]);
        PrintStream out = new PrintStream(System.out, true);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            if (mode.equals("crash")) {
                crash(s, seed, out, root);
            } else {
                int threads = Integer.parseInt(args[3]);
                int iterations = Integer.parseInt(args[4]);
                concurrent(s, seed, threads, iterations, root);
                out.println("DONE");
            }
        }
    }

    static void crash(NodeStore s, long seed, PrintStream out, Path root) throws Exception {
        Random rnd = new Random(seed);
        s.setGroupBudget(CHURN, 200_000L);
        List<EntryKey> mine = new ArrayList<>();
        out.println("READY");
        for (int n = 0; ; n++) {
            int op = rnd.nextInt(10);
            if (op < 4) {
                String name = "k-" + seed + "-" + n + "/";
                Entry e = commitFrom(s, KEEP, name, rnd, root);
                StringJoiner j = new StringJoiner(",");
                e.files().forEach(f -> j.add(f.path() + "=" + f.address().hex()));
                out.println("ACK " + name + " " + j);
                mine.add(e.key());
            } else if (op < 7) {
                commitFrom(s, CHURN, "c-" + rnd.nextInt(50) + "/", rnd, root);
            } else if (op < 8 && !mine.isEmpty()) {
                s.recordUse(mine.get(rnd.nextInt(mine.size())));
                s.sync();
            } else if (op < 9) {
                s.delete(new EntryKey(CHURN, "c-" + rnd.nextInt(50) + "/"));
            } else if (!mine.isEmpty()) {
                try (Pin p = s.pin(List.of(mine.get(rnd.nextInt(mine.size()))))) {
                    s.evictTo(Long.MAX_VALUE / 8);
                }
            }
        }
    }

    static Entry commitFrom(NodeStore s, GroupId g, String name, Random rnd, Path root) throws Exception {
        int files = 1 + rnd.nextInt(3);
        List<NodeStore.SourceFile> src = new ArrayList<>();
        Path dir = Files.createTempDirectory(root.getParent(), "src");
        for (int i = 0; i < files; i++) {
            byte[] b = rnd.nextInt(4) == 0
                    ? StoreFixture.bytes(rnd.nextLong(), 1 + rnd.nextInt(300))
                    : pooled(rnd.nextInt(120));
            Path p = dir.resolve("f" + i);
            Files.write(p, b);
            src.add(new NodeStore.SourceFile("f" + i, p, false));
        }
        try {
            return s.commitFiles(new EntryKey(g, name), src, "worker");
        } finally {
            for (NodeStore.SourceFile f : src) {
                Files.deleteIfExists(f.source());
            }
            Files.deleteIfExists(dir);
        }
    }

    static void concurrent(NodeStore s, long seed, int threads, int iterations, Path root) throws Exception {
        List<Thread> ts = new ArrayList<>();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            long ts0 = seed * 100 + t;
            Thread th = new Thread(() -> {
                Random rnd = new Random(ts0);
                try {
                    for (int i = 0; i < iterations; i++) {
                        // shared names across threads and processes: versions replace each other
                        commitFrom(s, KEEP, "shared-" + rnd.nextInt(20) + "/", rnd, root);
                        commitFrom(s, CHURN, "own-" + ts0 + "-" + i + "/", rnd, root);
                        if (rnd.nextInt(5) == 0) {
                            s.delete(new EntryKey(KEEP, "shared-" + rnd.nextInt(20) + "/"));
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        if (!errors.isEmpty()) {
            throw new AssertionError("worker failed", errors.get(0));
        }
    }
}
