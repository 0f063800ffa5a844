package io.mithril.bench;

import io.mithril.agent.index.Entry;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.remote.RemoteStats;
import io.mithril.agent.remote.Uploader;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.Views;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The remote tier on loopback S3Proxy (started by remote-bench.sh): the upload cost of a cold run,
 * restore into a fresh root from the bucket versus one GET of a tar of the same bytes (piped into
 * tar -x) versus the local warm publish, requests and bytes; then N fresh roots restoring at once.
 * Args: WORKDIR FIXTURE_TAR_GZ ENDPOINT N [fixture-only].
 */
public final class RemoteBench {
    private static final long FAR = Long.MAX_VALUE / 2;
    private static final int REPS = 3;
    private static final String BUCKET = "mithril";
    private static final byte[] KEY = "bench-manifest-key-0123456789abcdef".getBytes(StandardCharsets.UTF_8);

    private RemoteBench() {}

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        StoreBench.deleteTree(work);
        Files.createDirectories(work);
        URI endpoint = URI.create(args[2]);
        int n = Integer.parseInt(args[3]);
        try (S3Client c = client(endpoint)) {
            c.createBucket(b -> b.bucket(BUCKET));
        }
        Path fx = Files.createDirectories(work.resolve("fixture-src"));
        VolumeBench.sh("tar -xzf " + args[1] + " -C " + fx);
        shape("fixture (torch211-h100-gpt12l)", fx.resolve("cache"), work.resolve("fx"), endpoint, n);
        if (args.length > 4 && args[4].equals("fixture-only")) {
            return;
        }
        Path syn = Files.createDirectories(work.resolve("syn-src"));
        VolumeBench.synthetic(syn);
        shape("max-autotune shape (synthetic)", syn, work.resolve("syn"), endpoint, Math.min(n, 5));
        StoreBench.deleteTree(work);
    }

    static S3Client client(URI endpoint) {
        return S3Client.builder()
                .endpointOverride(endpoint)
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create("mithril-bench", "mithril-bench-secret")))
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .build();
    }

    static RemoteConfig config(URI endpoint, String prefix) {
        return RemoteConfig.of("s3://" + BUCKET + "/" + prefix, endpoint, KEY)
                .withRegion("us-east-1")
                .withCredentials(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create("mithril-bench", "mithril-bench-secret")))
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(120), 3);
    }

    static void shape(String name, Path src, Path dir, URI endpoint, int n) throws Exception {
        String prefix = dir.getFileName() + "/";
        long[] fb = filesAndBytes(src);
        System.out.printf(Locale.ROOT, "%n## %s: %d files, %.1f MB%n", name, fb[0], fb[1] / 1e6);
        Path a = Files.createDirectories(dir.resolve("a"));
        try (NodeStore store = NodeStore.open(a, StoreConfig.defaults());
                Ingester ing = new Ingester(store, IngestLimits.defaults())) {
            Views views = new Views(store);
            View seed = views.publish(
                    VolumeBench.G, dir.resolve("seed-view"), VolumeBench.FW, Views.Owner.CURRENT, PublishMode.LINK);
            VolumeBench.sh("cp -a " + src + "/. " + seed.dir());
            ing.ingest(seed, "bench", true);
            views.unpublish(seed);
            List<String> names = new ArrayList<>();
            for (Entry e : store.entries(VolumeBench.G)) {
                names.add(e.key().name());
            }
            try (Remote r = Remote.open(config(endpoint, prefix))) {
                long t0 = System.nanoTime();
                Uploader.Report up = r.uploader().upload(store, VolumeBench.G, names, FAR);
                double s = (System.nanoTime() - t0) / 1e9;
                RemoteStats st = r.stats();
                System.out.printf(
                        Locale.ROOT,
                        "upload of the cold run: %d entries, %d requests %s, %.1f MB up, %.2f s%n",
                        up.uploaded(),
                        st.requests(),
                        st.byOperation(),
                        st.bytesUp() / 1e6,
                        s);
            }

            double[] fill = new double[REPS];
            long req = 0;
            long down = 0;
            for (int i = 0; i < REPS; i++) {
                Path fresh = dir.resolve("fresh" + i);
                try (NodeStore f = NodeStore.open(Files.createDirectories(fresh), StoreConfig.defaults());
                        Remote r = Remote.open(config(endpoint, prefix))) {
                    long t0 = System.nanoTime();
                    Filler.Report rep = new Filler(f).fill(r.source(), VolumeBench.G, e -> true, FAR);
                    View v = new Views(f)
                            .publish(
                                    VolumeBench.G,
                                    dir.resolve("v" + i),
                                    VolumeBench.FW,
                                    Views.Owner.CURRENT,
                                    PublishMode.LINK);
                    fill[i] = (System.nanoTime() - t0) / 1e6;
                    req = r.stats().requests();
                    down = r.stats().bytesDown();
                    if (rep.committed() != names.size()) {
                        System.out.println("restore committed " + rep.committed() + " of " + names.size());
                    }
                    new Views(f).unpublish(v);
                }
                StoreBench.deleteTree(fresh);
            }

            Path tar = dir.resolve("same.tar");
            VolumeBench.sh("tar -cf " + tar + " -C " + src + " .");
            try (S3Client c = client(endpoint)) {
                c.putObject(x -> x.bucket(BUCKET).key(prefix + "same.tar"), RequestBody.fromFile(tar));
                double[] get = new double[REPS];
                for (int i = 0; i < REPS; i++) {
                    Path out = Files.createDirectories(dir.resolve("untar" + i));
                    long t0 = System.nanoTime();
                    Process p = new ProcessBuilder("tar", "-xf", "-", "-C", out.toString())
                            .inheritIO()
                            .redirectInput(ProcessBuilder.Redirect.PIPE)
                            .start();
                    try (InputStream in = c.getObject(x -> x.bucket(BUCKET).key(prefix + "same.tar"));
                            OutputStream o = p.getOutputStream()) {
                        in.transferTo(o);
                    }
                    p.waitFor();
                    get[i] = (System.nanoTime() - t0) / 1e6;
                    StoreBench.deleteTree(out);
                }
                double[] warm = new double[REPS];
                for (int i = 0; i < REPS; i++) {
                    long t0 = System.nanoTime();
                    View v = views.publish(
                            VolumeBench.G, dir.resolve("w" + i), VolumeBench.FW, Views.Owner.CURRENT, PublishMode.LINK);
                    warm[i] = (System.nanoTime() - t0) / 1e6;
                    views.unpublish(v);
                }
                System.out.printf(
                        Locale.ROOT,
                        "restore into a fresh root (fill + publish): %7.0f ms, %d requests, %.1f MB down%n",
                        median(fill),
                        req,
                        down / 1e6);
                System.out.printf(
                        Locale.ROOT,
                        "one GET of a tar of the same bytes | tar -x:  %7.0f ms, 1 request, %.1f MB  (remote/tar %.2fx)%n",
                        median(get),
                        Files.size(tar) / 1e6,
                        median(fill) / median(get));
                System.out.printf(
                        Locale.ROOT,
                        "local warm publish (links):               %7.0f ms, 0 requests   (remote/warm %.0fx)%n",
                        median(warm),
                        median(fill) / median(warm));
            }
        }
        scaleOut(dir, endpoint, prefix, n);
    }

    /** {@code n} fresh roots (threads of this JVM, each its own client and store) restoring the group at once. */
    static void scaleOut(Path dir, URI endpoint, String prefix, int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CyclicBarrier go = new CyclicBarrier(n);
        List<Future<long[]>> runs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path root = Files.createDirectories(dir.resolve("scale" + i));
            runs.add(pool.submit(() -> {
                try (NodeStore f = NodeStore.open(root, StoreConfig.defaults());
                        Remote r = Remote.open(config(endpoint, prefix))) {
                    go.await();
                    long t0 = System.nanoTime();
                    new Filler(f).fill(r.source(), VolumeBench.G, e -> true, FAR);
                    return new long[] {
                        System.nanoTime() - t0, r.stats().requests(), r.stats().bytesDown()
                    };
                }
            }));
        }
        double[] ms = new double[n];
        long req = 0;
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            long[] r = runs.get(i).get();
            ms[i] = r[0] / 1e6;
            req += r[1];
            bytes += r[2];
        }
        pool.shutdown();
        Arrays.sort(ms);
        System.out.printf(
                Locale.ROOT,
                "scale-out, %d fresh roots at once (threads): %d requests, %.1f MB at the server; "
                        + "time to ready p50 %.0f ms, p99 %.0f ms%n",
                n,
                req,
                bytes / 1e6,
                ms[n / 2],
                ms[Math.min(n - 1, (int) Math.ceil(n * 0.99) - 1)]);
        for (int i = 0; i < n; i++) {
            StoreBench.deleteTree(dir.resolve("scale" + i));
        }
    }

    static long[] filesAndBytes(Path src) throws IOException {
        long[] fb = new long[2];
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                fb[0]++;
                fb[1] += Files.size(p);
            }
        }
        return fb;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
