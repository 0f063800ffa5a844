package io.mithril.bench;

import io.mithril.bench.CountingProxy.Call;
import java.io.IOException;
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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The remote tier as users run it, on loopback S3Proxy (started by remote-bench.sh), for the
 * fixture's group and the max-autotune-shaped group in one run. Every agent is a real
 * {@code bin/mithril-agent exec --remote ...} process; all of them reach S3Proxy through a
 * {@link CountingProxy} in this JVM, which is where requests and bytes are counted. Per group:
 * the upload of one cold run (the command copies the tree into the cache folders); restore into a
 * fresh root versus one GET of a tar of the same bytes ({@code curl | tar -x}) versus the warm
 * publish from the root that holds the group; then N fresh roots as N agent processes released at
 * once. Time to ready: from the release of the process (a waiting {@code sh} that then execs the
 * launcher) to the first instruction of the command exec runs ({@code date +%s%N}).
 * Args: WORKDIR FIXTURE_TAR_GZ S3_ENDPOINT LAUNCHER N_FIXTURE N_SYNTHETIC [fixture-only|synthetic-only].
 */
public final class RemoteBench {
    private static final int REPS = 3;
    private static final String BUCKET = "mithril";
    private static final String ACCESS = "mithril-bench";
    private static final String SECRET = "mithril-bench-secret";
    private static final Pattern FETCHED =
            Pattern.compile("fetched (\\d+) entries \\(([^)]+)\\) in (\\d+) ms, (\\d+) requests([^\n]*)");
    private static final Pattern INGESTED = Pattern.compile("ingested (\\d+) entries");
    /** The command of a restore: when it starts, then how many files the view shows. */
    private static final String READY =
            "date +%s%N; find \"$TORCHINDUCTOR_CACHE_DIR\" \"$TRITON_CACHE_DIR\" -type f | sort -u | wc -l";

    private final Path work;
    private final Path launcher;
    private final Path key;
    private final CountingProxy proxy;
    private final URI server;
    private final List<String> summary = new ArrayList<>();

    private RemoteBench(Path work, Path launcher, CountingProxy proxy, URI server) throws IOException {
        this.work = work;
        this.launcher = launcher;
        this.proxy = proxy;
        this.server = server;
        this.key = Files.writeString(work.resolve("remote.key"), "bench-manifest-key-0123456789abcdef\n");
    }

    /** One agent process: what it printed, its exit, and when (epoch ns) it was released, its command started, it ended. */
    record Run(int code, String out, String err, long released, long ready, long exited) {
        double readyMs() {
            return (ready - released) / 1e6;
        }

        double exitMs() {
            return (exited - released) / 1e6;
        }

        /** The second line of a {@link #READY} command's output: the files the view showed. */
        long files() {
            String[] l = out.strip().split("\n");
            return l.length > 1 ? Long.parseLong(l[1].trim()) : -1;
        }
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        StoreBench.deleteTree(work);
        Files.createDirectories(work);
        URI server = URI.create(args[2]);
        try (S3Client c = client(server)) {
            c.createBucket(b -> b.bucket(BUCKET));
        }
        try (CountingProxy proxy = new CountingProxy(server)) {
            RemoteBench b = new RemoteBench(work, Path.of(args[3]), proxy, server);
            String only = args.length > 6 ? args[6] : "";
            if (!only.equals("synthetic-only")) {
                Path fx = Files.createDirectories(work.resolve("fixture-src"));
                VolumeBench.sh("tar -xzf " + args[1] + " -C " + fx);
                b.shape("fixture (torch211-h100-gpt12l)", fx.resolve("cache"), "fx", Integer.parseInt(args[4]));
            }
            if (!only.equals("fixture-only")) {
                Path syn = Files.createDirectories(work.resolve("syn-src"));
                VolumeBench.synthetic(syn);
                b.shape("max-autotune shape (synthetic, random bytes)", syn, "syn", Integer.parseInt(args[5]));
            }
            System.out.println();
            b.summary.forEach(System.out::println);
        }
        StoreBench.deleteTree(work);
    }

    static S3Client client(URI endpoint) {
        return S3Client.builder()
                .endpointOverride(endpoint)
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(credentials())
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .build();
    }

    /** Objects and bytes the bucket holds under {@code prefix}, asked of S3Proxy directly (not counted). */
    private long[] held(String prefix) {
        long[] nb = new long[2];
        try (S3Client c = client(server)) {
            c.listObjectsV2Paginator(x -> x.bucket(BUCKET).prefix(prefix))
                    .contents()
                    .forEach(o -> {
                        nb[0]++;
                        nb[1] += o.size();
                    });
        }
        return nb;
    }

    private static StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS, SECRET));
    }

    private static void progress(String format, Object... args) {
        System.err.printf(Locale.ROOT, "remote-bench: " + format + "%n", args);
    }

    private void shape(String name, Path src, String prefix, int n) throws Exception {
        Path dir = Files.createDirectories(work.resolve(prefix));
        long[] fb = filesAndBytes(src);
        progress("%s: %d files, %.1f MB", name, fb[0], fb[1] / 1e6);

        // one cold run: nothing in the bucket, the command "compiles" (copies the tree in), exec uploads after it
        Path a = Files.createDirectories(dir.resolve("a"));
        String copy = "date +%s%N; cp -a " + src + "/inductor/. \"$TORCHINDUCTOR_CACHE_DIR\"/ && cp -a " + src
                + "/triton/. \"$TRITON_CACHE_DIR\"/ && date +%s%N";
        int m = proxy.mark();
        Run cold = agent(a, prefix, copy);
        List<Call> all = proxy.since(m);
        String[] marks = cold.out().strip().split("\n");
        long commandEnd = Long.parseLong(marks[marks.length - 1].trim());
        List<Call> upload = all.stream().filter(c -> c.startNanos > commandEnd).toList();
        long ingested = group(INGESTED.matcher(cold.err()), 1);
        if (cold.code() != 0 || !cold.err().contains("uploaded " + ingested + " entries")) {
            progress("cold run: exit %d, not every entry uploaded:%n%s", cold.code(), cold.err());
        }
        double upSecs = upload.isEmpty()
                ? 0
                : (upload.stream().mapToLong(c -> c.endNanos).max().getAsLong() - upload.get(0).startNanos) / 1e9;
        progress("cold run: %d entries ingested; upload %s", ingested, describe(upload));
        progress("cold run, the agent's lines:%n%s", cold.err().strip());
        long[] held = held(prefix + "/");
        progress("the bucket holds %d objects, %.1f MB under %s/", held[0], held[1] / 1e6, prefix);
        if (CountingProxy.failed(all) > 0) {
            all.forEach(c -> progress(
                    "  conn %d %s %s: %d, %d up, %d down", c.conn, c.method, c.target, c.status, c.bodyUp, c.bodyDown));
        }

        // restore into a fresh root, REPS times
        double[] ready = new double[REPS];
        double[] fill = new double[REPS];
        List<Call> restore = List.of();
        for (int i = 0; i < REPS; i++) {
            Path fresh = Files.createDirectories(dir.resolve("fresh" + i));
            m = proxy.mark();
            Run r = agent(fresh, prefix, READY);
            restore = proxy.since(m);
            ready[i] = r.readyMs();
            fill[i] = check(r, "restore " + i, ingested, fb[0])[2];
            if (i == 0) {
                progress("restore, the agent's lines:%n%s", r.err().strip());
            }
            StoreBench.deleteTree(fresh);
        }
        progress("restore: %.0f ms to ready, %s", median(ready), describe(restore));

        // one GET of a tar of the same bytes, presigned, through the same proxy
        Path tar = dir.resolve("same.tar");
        VolumeBench.sh("tar -cf " + tar + " -C " + src + " .");
        String url;
        try (S3Client c = client(server);
                S3Presigner p = S3Presigner.builder()
                        .endpointOverride(proxy.endpoint())
                        .serviceConfiguration(S3Configuration.builder()
                                .pathStyleAccessEnabled(true)
                                .build())
                        .region(Region.US_EAST_1)
                        .credentialsProvider(credentials())
                        .build()) {
            c.putObject(x -> x.bucket(BUCKET).key(prefix + "/same.tar"), RequestBody.fromFile(tar));
            url = p.presignGetObject(x -> x.signatureDuration(Duration.ofHours(2))
                            .getObjectRequest(g -> g.bucket(BUCKET).key(prefix + "/same.tar")))
                    .url()
                    .toString();
        }
        double[] get = new double[REPS];
        List<Call> tarCalls = List.of();
        for (int i = 0; i < REPS; i++) {
            Path out = Files.createDirectories(dir.resolve("untar" + i));
            m = proxy.mark();
            long t0 = System.nanoTime();
            VolumeBench.sh("curl -sSf '" + url + "' | tar -xf - -C " + out);
            get[i] = (System.nanoTime() - t0) / 1e6;
            tarCalls = proxy.since(m);
            StoreBench.deleteTree(out);
        }
        progress("tar GET: %.0f ms, %s", median(get), describe(tarCalls));

        // the warm publish: exec on the root that holds the group, no remote
        double[] warm = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            Run w = agent(a, null, READY);
            check(w, "warm " + i, -1, fb[0]);
            if (i == 0) {
                progress("warm, the agent's lines:%n%s", w.err().strip());
            }
            warm[i] = w.readyMs();
        }
        progress("warm: %.0f ms to ready", median(warm));

        // N fresh roots at once, as N agent processes
        m = proxy.mark();
        List<Run> scale = scaleOut(dir, prefix, n);
        List<Call> origin = proxy.since(m);
        double[] readyAll = new double[n];
        double[] exitAll = new double[n];
        int whole = 0;
        for (int i = 0; i < n; i++) {
            Run r = scale.get(i);
            readyAll[i] = r.readyMs();
            exitAll[i] = r.exitMs();
            if (check(r, "scale-out " + i, ingested, fb[0])[0] == 1) {
                whole++;
            }
        }
        Arrays.sort(readyAll);
        Arrays.sort(exitAll);
        progress("scale-out: %d of %d whole, %s", whole, n, describe(origin));

        double restoreMs = median(ready);
        summary.add(
                String.format(Locale.ROOT, "%s: %,d files, %.1f MB, %d entries", name, fb[0], fb[1] / 1e6, ingested));
        summary.add("");
        summary.add("| | time | requests at the server | bytes at the server |");
        summary.add("|---|---:|---|---:|");
        row(
                "upload of the cold run (after the command, first request to last response)",
                String.format(Locale.ROOT, "%.1f s", upSecs),
                upload,
                String.format(Locale.ROOT, "%.1f MB up", CountingProxy.up(upload) / 1e6));
        row(
                "restore into a fresh root: `exec --remote`, release to command start",
                String.format(Locale.ROOT, "%,.0f ms (fill %,.0f ms by the agent)", restoreMs, median(fill)),
                restore,
                down(restore));
        row(
                "one GET of a tar of the same bytes: `curl \\| tar -x`",
                String.format(Locale.ROOT, "%,.0f ms (restore/tar %.2fx)", median(get), restoreMs / median(get)),
                tarCalls,
                down(tarCalls));
        row(
                "local warm publish: `exec` on the root that holds the group, release to command start",
                String.format(Locale.ROOT, "%,.0f ms (restore/warm %.1fx)", median(warm), restoreMs / median(warm)),
                List.of(),
                "0");
        row(
                String.format(
                        Locale.ROOT,
                        "%d fresh roots at once (%d agent processes; %d of %d got every entry)",
                        n,
                        n,
                        whole,
                        n),
                String.format(
                        Locale.ROOT,
                        "ready p50 %,.0f ms, p99 %,.0f ms; exit p50 %,.0f ms, p99 %,.0f ms",
                        percentile(readyAll, 50),
                        percentile(readyAll, 99),
                        percentile(exitAll, 50),
                        percentile(exitAll, 99)),
                origin,
                String.format(
                        Locale.ROOT,
                        "%s (%.1fx the group)",
                        down(origin),
                        CountingProxy.down(origin) / (double) Math.max(1, CountingProxy.down(restore))));
        summary.add("");
        summary.add(String.format(
                Locale.ROOT,
                "After the cold run the bucket held %d objects, %.1f MB under %s/ (listed from S3Proxy directly).",
                held[0],
                held[1] / 1e6,
                prefix));
        summary.add("");
        StoreBench.deleteTree(dir);
    }

    /** One row of the summary table: requests by kind (and failed ones, 5xx or unanswered) and bytes. */
    private void row(String what, String time, List<Call> cs, String bytes) {
        long failed = CountingProxy.failed(cs);
        summary.add(String.format(
                Locale.ROOT,
                "| %s | %s | %d%s%s | %s |",
                what,
                time,
                cs.size(),
                cs.isEmpty() ? "" : " (" + CountingProxy.byKind(cs) + ")",
                failed > 0 ? ", " + failed + " failed" : "",
                bytes));
    }

    private static String down(List<Call> cs) {
        return String.format(Locale.ROOT, "%.1f MB down", CountingProxy.down(cs) / 1e6);
    }

    /**
     * {@code n} fresh roots, one agent process each: every process is forked first and waits on its
     * stdin, then all are released one right after the other (the spread is printed).
     */
    private List<Run> scaleOut(Path dir, String prefix, int n) throws Exception {
        List<Process> ps = new ArrayList<>();
        List<Path> errs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path root = Files.createDirectories(dir.resolve("scale" + i));
            errs.add(dir.resolve("scale" + i + ".err"));
            ps.add(spawn(root, prefix, READY, errs.get(i)));
        }
        long[] released = new long[n];
        long[] exited = new long[n];
        for (int i = 0; i < n; i++) {
            int k = i;
            ps.get(i).onExit().thenRun(() -> exited[k] = CountingProxy.now());
            released[i] = release(ps.get(i));
        }
        progress("scale-out: %d processes released within %.1f ms", n, (released[n - 1] - released[0]) / 1e6);
        List<Run> runs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            runs.add(finish(ps.get(i), errs.get(i), released[i]));
            if (exited[i] != 0) {
                Run r = runs.get(i);
                runs.set(i, new Run(r.code(), r.out(), r.err(), r.released(), r.ready(), exited[i]));
            }
        }
        for (int i = 0; i < n; i++) {
            StoreBench.deleteTree(dir.resolve("scale" + i));
        }
        return runs;
    }

    /** One agent process on {@code root}, released at once and waited for; {@code prefix} null: no remote. */
    private Run agent(Path root, String prefix, String script) throws Exception {
        Path err = Files.createTempFile(work, "agent", ".err");
        Process p = spawn(root, prefix, script, err);
        Run r = finish(p, err, release(p));
        Files.delete(err);
        return r;
    }

    /** Forks {@code sh}, which waits for a line on its stdin and then execs the launcher (as users run it). */
    private Process spawn(Path root, String prefix, String script, Path err) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                "sh",
                "-c",
                "read -r go; exec \"$0\" \"$@\"",
                launcher.toString(),
                "--root",
                root.toString(),
                "exec",
                "--device",
                "cuda-9.0",
                "--product",
                "NVIDIA H100 80GB HBM3"));
        if (prefix != null) {
            cmd.addAll(List.of(
                    "--remote",
                    "s3://" + BUCKET + "/" + prefix + "/",
                    "--remote-endpoint",
                    proxy.endpoint().toString(),
                    "--remote-key-file",
                    key.toString(),
                    "--remote-fetch-deadline",
                    "600",
                    "--remote-upload-limit",
                    "600"));
        }
        cmd.addAll(List.of("--", "sh", "-c", script));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile());
        Map<String, String> env = pb.environment();
        env.remove("TORCHINDUCTOR_CACHE_DIR");
        env.remove("TRITON_CACHE_DIR");
        env.put("AWS_ACCESS_KEY_ID", ACCESS);
        env.put("AWS_SECRET_ACCESS_KEY", SECRET);
        env.put("AWS_REGION", "us-east-1");
        return pb.start();
    }

    private static long release(Process p) throws IOException {
        long t = CountingProxy.now();
        try (OutputStream in = p.getOutputStream()) {
            in.write('\n');
        }
        return t;
    }

    private static Run finish(Process p, Path err, long released) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(20, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("agent did not end in 20 minutes: " + Files.readString(err));
        }
        long exited = CountingProxy.now();
        String e = Files.readString(err);
        String first = out.strip().split("\n")[0].trim();
        if (!first.matches("\\d+")) {
            throw new IOException("the command did not run (exit " + p.exitValue() + "): " + out + e);
        }
        return new Run(p.exitValue(), out, e, released, Long.parseLong(first), exited);
    }

    /**
     * Whether a restore got everything: {whole (1/0), entries fetched, the agent's fill ms}; a
     * shortfall is printed. {@code entries} -1: no fetch expected (the warm publish).
     */
    private static long[] check(Run r, String what, long entries, long files) {
        Matcher f = FETCHED.matcher(r.err());
        long fetched = f.find() ? Long.parseLong(f.group(1)) : 0;
        long ms = fetched > 0 ? Long.parseLong(f.group(3)) : 0;
        boolean whole = r.code() == 0 && r.files() == files && (entries < 0 || fetched == entries);
        if (!whole) {
            progress(
                    "%s: exit %d, %d of %d entries fetched, %d of %d files in the view:%n%s",
                    what, r.code(), fetched, entries, r.files(), files, r.err());
        }
        return new long[] {whole ? 1 : 0, fetched, ms};
    }

    private static long group(Matcher m, int g) {
        return m.find() ? Long.parseLong(m.group(g)) : -1;
    }

    private static String describe(List<Call> cs) {
        return String.format(
                Locale.ROOT,
                "%d requests (%s), %.1f MB up, %.1f MB down, %.1f MB on the wire",
                cs.size(),
                CountingProxy.byKind(cs),
                CountingProxy.up(cs) / 1e6,
                CountingProxy.down(cs) / 1e6,
                CountingProxy.wire(cs) / 1e6);
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

    /** Nearest rank on sorted {@code v}: p99 of 20 is the slowest. */
    static double percentile(double[] v, int p) {
        int rank = (int) Math.ceil(p / 100.0 * v.length);
        return v[Math.max(0, Math.min(v.length - 1, rank - 1))];
    }
}
