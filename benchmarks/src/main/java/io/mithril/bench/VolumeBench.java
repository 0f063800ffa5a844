package io.mithril.bench;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.Views;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Publish, ingest and exec figures, side by side in one run:
 * <ol>
 *   <li>restoring the fixture tree (544 files, 15 MB) and a synthetic tree shaped like the
 *       max-autotune cache (8,674 files, 296 MB) by publishing a view (links, copies) versus
 *       {@code tar -xzf} of the same tree and {@code cp -a} of it;</li>
 *   <li>ingest throughput of the synthetic tree versus {@code b3sum --num-threads 1} of its files;</li>
 *   <li>{@code exec} overhead on a no-op command versus running the command directly.</li>
 * </ol>
 * Usage: {@code VolumeBench WORKDIR FIXTURE_TAR_GZ LAUNCHER}.
 */
public final class VolumeBench {

    static final GroupId G =
            new GroupId("bench", "llm", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
    static final Set<Framework> FW = Set.of(Framework.INDUCTOR, Framework.TRITON);
    static final int REPS = 11;

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        StoreBench.deleteTree(work);
        Files.createDirectories(work);
        Path fixtureTar = Path.of(args[1]);
        Path launcher = Path.of(args[2]);
        System.out.printf(
                Locale.ROOT,
                "# VolumeBench: java %s, %d cpus, medians of %d%n",
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(),
                REPS);

        Path fx = work.resolve("fixture-src");
        sh("mkdir -p " + fx + " && tar -xzf " + fixtureTar + " -C " + fx);
        tree("fixture (544 files, 15 MB)", fx.resolve("cache"), fixtureTar, work.resolve("s1"));

        Path syn = work.resolve("synthetic-src");
        synthetic(syn);
        Path synTar = work.resolve("synthetic.tar.gz");
        sh("tar -czf " + synTar + " -C " + syn + " .");
        tree("max-autotune shape (synthetic)", syn, synTar, work.resolve("s2"));

        execOverhead(launcher, work.resolve("s3"));
        StoreBench.deleteTree(work);
    }

    static void tree(String name, Path src, Path tarGz, Path storeRoot) throws Exception {
        long files;
        long bytes;
        try (Stream<Path> s = Files.walk(src)) {
            List<Path> all = s.filter(Files::isRegularFile).toList();
            files = all.size();
            bytes = 0;
            for (Path p : all) {
                bytes += Files.size(p);
            }
        }
        System.out.printf(Locale.ROOT, "%n## %s: %d files, %.1f MB%n", name, files, bytes / 1e6);
        Files.createDirectories(storeRoot);
        try (NodeStore store = NodeStore.open(storeRoot, StoreConfig.defaults());
                Ingester ing = new Ingester(store, IngestLimits.defaults())) {
            Views views = new Views(store);
            View seed = views.publish(
                    G, storeRoot.getParent().resolve("seed-view"), FW, Views.Owner.CURRENT, PublishMode.LINK);
            sh("cp -a " + src + "/. " + seed.dir());
            sh("sync");
            long t0 = System.nanoTime();
            IngestReport r = ing.ingest(seed, "bench", true);
            double ingestS = (System.nanoTime() - t0) / 1e9;
            views.unpublish(seed);
            double b3 =
                    timeSh("find " + src + " -type f -print0 | xargs -0 b3sum --num-threads 1 --no-names > /dev/null");
            if (r.refusedTotal() > 0 || !r.deferred().isEmpty()) {
                System.out.println("ingest refused " + r.refused() + ", deferred " + r.deferred());
            }
            System.out.printf(
                    Locale.ROOT,
                    "ingest (cold view, %d entries): %7.0f ms  %6.0f MB/s   | b3sum -j1 same files: %6.0f ms  %6.0f MB/s  | ratio %.2fx%n",
                    r.entries(),
                    ingestS * 1e3,
                    bytes / 1e6 / ingestS,
                    b3 * 1e3,
                    bytes / 1e6 / b3,
                    b3 / ingestS);

            double[] link = new double[REPS];
            double[] copy = new double[REPS];
            double[] tar = new double[REPS];
            double[] cp = new double[REPS];
            double[] cpl = new double[REPS];
            Path out = storeRoot.getParent().resolve("restore");
            for (int i = 0; i < REPS; i++) {
                StoreBench.deleteTree(out);
                sh("sync"); // each contender starts with no dirty pages from the one before
                long a = System.nanoTime();
                View v = views.publish(G, out, FW, Views.Owner.CURRENT, PublishMode.LINK);
                link[i] = (System.nanoTime() - a) / 1e6;
                views.unpublish(v);
                sh("sync");
                a = System.nanoTime();
                v = views.publish(G, out, FW, Views.Owner.CURRENT, PublishMode.COPY);
                copy[i] = (System.nanoTime() - a) / 1e6;
                views.unpublish(v);
                Files.createDirectories(out);
                sh("sync");
                tar[i] = timeSh("tar -xzf " + tarGz + " -C " + out) * 1e3;
                StoreBench.deleteTree(out);
                sh("sync");
                cp[i] = timeSh("cp -a " + src + " " + out) * 1e3;
                StoreBench.deleteTree(out);
                sh("sync");
                cpl[i] = timeSh("cp -al " + src + " " + out)
                        * 1e3; // the same links made by coreutils: the floor for LINK
                StoreBench.deleteTree(out);
            }
            double l = median(link);
            System.out.printf(
                    Locale.ROOT,
                    "restore: publish LINK %7.1f ms (1.00x) | cp -al (link floor) %7.1f ms (%.1fx) | publish COPY %7.1f ms (%.1fx) | tar -xzf %7.1f ms (%.1fx) | cp -a %7.1f ms (%.1fx)%n",
                    l,
                    median(cpl),
                    median(cpl) / l,
                    median(copy),
                    median(copy) / l,
                    median(tar),
                    median(tar) / l,
                    median(cp),
                    median(cp) / l);
        }
    }

    static void execOverhead(Path launcher, Path root) throws Exception {
        Files.createDirectories(root);
        double[] plain = new double[REPS];
        double[] exec = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            plain[i] = timeSh("true") * 1e3;
            exec[i] = timeSh(launcher + " --root " + root + " exec --device cpu -- true 2>/dev/null") * 1e3;
        }
        System.out.printf(
                Locale.ROOT,
                "%n## exec overhead on a no-op (true): plain %.1f ms, through exec %.1f ms (+%.0f ms: JVM start, store open, publish, ingest, unpublish)%n",
                median(plain),
                median(exec),
                median(exec) - median(plain));
    }

    /**
     * The max-autotune cache of the fixture's model, by its README: 997 Triton kernel folders of 8
     * files (.cubin 29 MB, .llir 120 MB, .ptx 26 MB, .source 23 MB, .ttgir 18 MB, .ttir 11 MB,
     * .json 2 MB in all), two FX graph entries of 63 MB, 640 generated modules (3.5 MB), 44 autotune
     * picks, one AOTAutograd entry: 8,674 files, ~296 MB. Random bytes (real kernels compress better).
     */
    static void synthetic(Path root) throws IOException {
        Random rnd = new Random(11);
        String[][] kinds = {
            {"cubin", "29"}, {"llir", "120"}, {"ptx", "26"}, {"source", "23"}, {"ttgir", "18"}, {"ttir", "11"}
        };
        for (int k = 0; k < 997; k++) {
            String key = String.format("K%051d", k);
            Path d = Files.createDirectories(root.resolve("triton").resolve(key));
            for (String[] kind : kinds) {
                write(d.resolve("kernel_" + k + "." + kind[0]), Integer.parseInt(kind[1]) * 1_000_000L / 997, rnd);
            }
            write(d.resolve("kernel_" + k + ".json"), 1000, rnd);
            StringBuilder grp = new StringBuilder("{\"child_paths\": {");
            for (String[] kind : kinds) {
                String n = "kernel_" + k + "." + kind[0];
                grp.append('"')
                        .append(n)
                        .append("\": \"/var/cache/mithril/triton/")
                        .append(key)
                        .append('/')
                        .append(n)
                        .append("\", ");
            }
            grp.append("\"kernel_")
                    .append(k)
                    .append(".json\": \"/var/cache/mithril/triton/")
                    .append(key)
                    .append("/kernel_")
                    .append(k)
                    .append(".json\"}}");
            Files.writeString(d.resolve("__grp__kernel_" + k + ".json"), grp);
        }
        for (int f = 0; f < 2; f++) {
            write(root.resolve("inductor/fxgraph/a" + f + "/fkey" + f + "/entry"), 31_500_000, rnd);
        }
        write(root.resolve("inductor/aotautograd/akey/entry"), 1_400_000, rnd);
        for (int m = 0; m < 651; m++) {
            write(root.resolve(String.format("inductor/%02d/cmodule%d.py", m % 100, m)), 5_400, rnd);
        }
        for (int b = 0; b < 44; b++) {
            write(root.resolve(String.format("inductor/%02d/%064d.best_config", b, b)), 120, rnd);
        }
    }

    static void write(Path p, long size, Random rnd) throws IOException {
        Files.createDirectories(p.getParent());
        byte[] b = new byte[(int) size];
        rnd.nextBytes(b);
        try (OutputStream o = Files.newOutputStream(p)) {
            o.write(b);
        }
    }

    static void sh(String cmd) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("failed: " + cmd);
        }
    }

    static double timeSh(String cmd) throws Exception {
        long a = System.nanoTime();
        sh(cmd);
        return (System.nanoTime() - a) / 1e9;
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
