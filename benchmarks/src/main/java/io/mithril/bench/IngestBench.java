package io.mithril.bench;

import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Durable ingest of a cache tree against a durable copy of it, side by side in one run: the tree
 * is read into a fresh store the way ingest does (every file put, one entry per folder, entries
 * committed 256 to a batch, each batch durable when its commit returns), and copied with
 * {@code cp -a} followed by one {@code sync}. Rounds alternate so that a busy machine weighs on
 * both alike; the median of each is printed with their ratio.
 * Usage: {@code IngestBench WORKDIR TREE [rounds]}.
 */
public final class IngestBench {

    public static void main(String[] args) throws Exception {
        Path work = Files.createDirectories(Path.of(args[0]));
        Path tree = Path.of(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        Map<Path, List<Path>> folders = folders(tree);
        long files = folders.values().stream().mapToLong(List::size).sum();
        long bytes = 0;
        for (List<Path> l : folders.values()) {
            for (Path p : l) {
                bytes += Files.size(p);
            }
        }
        System.out.printf(
                Locale.ROOT,
                "# IngestBench: %d files in %d folders, %.1f MB, %d rounds, %d cpus%n",
                files,
                folders.size(),
                bytes / 1e6,
                rounds,
                Runtime.getRuntime().availableProcessors());
        run("sync"); // settle what extracting the tree left dirty
        double[] ingest = new double[rounds];
        double[] perFile = new double[rounds];
        double[] copy = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            ingest[r] = timedIngest(work.resolve("store" + r), tree, folders, true);
            perFile[r] = timedIngest(work.resolve("perfile" + r), tree, folders, false);
            Path dst = work.resolve("copy" + r);
            long t0 = System.nanoTime();
            run("cp", "-a", tree.toString(), dst.toString());
            run("sync");
            copy[r] = (System.nanoTime() - t0) / 1e9;
            run("rm", "-rf", dst.toString());
            run("sync");
            System.out.printf(
                    Locale.ROOT,
                    "round %d: ingest %.3f s, with per-file syncs %.3f s, cp -a + sync %.3f s%n",
                    r,
                    ingest[r],
                    perFile[r],
                    copy[r]);
        }
        double i = median(ingest);
        double f = median(perFile);
        double c = median(copy);
        System.out.printf(
                Locale.ROOT,
                "durable ingest (NodeStore put + commitAll): %6.3f s (median; min %.3f, max %.3f)%n",
                i,
                ingest[0],
                ingest[rounds - 1]);
        System.out.printf(
                Locale.ROOT,
                "same, per-file syncs (no syncfs):           %6.3f s (median; min %.3f, max %.3f)%n",
                f,
                perFile[0],
                perFile[rounds - 1]);
        System.out.printf(
                Locale.ROOT,
                "cp -a + sync:                               %6.3f s (median; min %.3f, max %.3f)%n",
                c,
                copy[0],
                copy[rounds - 1]);
        System.out.printf(
                Locale.ROOT,
                "ratio ingest / (cp -a + sync):              %6.2f (per-file syncs: %.2f)%n",
                i / c,
                f / c);
    }

    /** One durable ingest into a fresh store at {@code store}, with one syncfs per batch or per-file syncs; seconds. */
    private static double timedIngest(Path store, Path tree, Map<Path, List<Path>> folders, boolean syncfs)
            throws IOException, InterruptedException {
        System.setProperty("mithril.store.syncfs", Boolean.toString(syncfs));
        Files.createDirectories(store);
        long t0 = System.nanoTime();
        ingest(store, tree, folders);
        double s = (System.nanoTime() - t0) / 1e9;
        run("rm", "-rf", store.toString());
        run("sync");
        return s;
    }

    /** Sorts {@code a} and returns its median. */
    private static double median(double[] a) {
        Arrays.sort(a);
        return a[a.length / 2];
    }

    /** Every regular file of the tree, grouped by its folder (an ingest unit is about a folder). */
    static Map<Path, List<Path>> folders(Path tree) throws IOException {
        Map<Path, List<Path>> out = new LinkedHashMap<>();
        try (Stream<Path> s = Files.walk(tree)) {
            s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .sorted()
                    .forEach(p -> out.computeIfAbsent(p.getParent(), k -> new ArrayList<>())
                            .add(p));
        }
        return out;
    }

    static void ingest(Path root, Path tree, Map<Path, List<Path>> folders) throws IOException {
        long bytes = 0;
        for (List<Path> l : folders.values()) {
            for (Path p : l) {
                bytes += Files.size(p);
            }
        }
        // as an ingest pass does: its bytes reserved in one step, which the puts draw from
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults());
                NodeStore.Reservation reserved = s.reserveFor(bytes)) {
            List<NodeStore.Pending> batch = new ArrayList<>();
            for (Map.Entry<Path, List<Path>> f : folders.entrySet()) {
                List<EntryFile> files = new ArrayList<>();
                for (Path p : f.getValue()) {
                    NodeStore.Stored w = s.putFile(p, reserved);
                    files.add(new EntryFile(p.getFileName().toString(), w.address(), w.size(), false));
                }
                String name = tree.relativize(f.getKey()).toString();
                batch.add(new NodeStore.Pending(
                        new EntryKey(StoreBench.GROUPS[0], name.isEmpty() ? "root" : name), files, "bench"));
                if (batch.size() == 256) {
                    commit(s, batch);
                }
            }
            commit(s, batch);
        }
    }

    private static void commit(NodeStore s, List<NodeStore.Pending> batch) throws IOException {
        for (NodeStore.Outcome o : s.commitAll(batch)) {
            if (o.error() != null) {
                throw new IOException("commit failed: " + o.error(), o.error());
            }
        }
        batch.clear();
    }

    static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed");
        }
    }
}
