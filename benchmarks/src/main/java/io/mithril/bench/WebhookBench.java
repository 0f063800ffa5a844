package io.mithril.bench;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.certs.CertificateAuthority;
import io.mithril.operator.webhook.Injection;
import io.mithril.operator.webhook.PodMutator;
import io.mithril.operator.webhook.WebhookServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Prints the admission webhook's latency: the real {@link WebhookServer} on loopback HTTPS (a serving
 * certificate from {@link CertificateAuthority}), one CompileCache in the namespace, and N client
 * threads POSTing the recorded AdmissionReview of an annotated GPU pod (fresh {@code request.uid}
 * each time; every {@code plainEvery}-th request the same pod without the annotation) over keep-alive
 * HTTPS for a fixed time after a warm-up. Latency per request (nanos, sorted) for annotated and plain
 * pods apart, then {@link PodMutator#mutate} alone and with the server's JSON work, so the HTTPS and
 * JSON overhead shows as a ratio.
 *
 * <p>Usage: {@code WebhookBench REVIEW_JSON [threads=8] [warmupSeconds=5] [seconds=20] [plainEvery=5]}.
 */
public final class WebhookBench {

    static final String RECORDED_UID = "0df28fbd-5f5f-11e8-bc74-36e6bb280816";

    public static void main(String[] args) throws Exception {
        String recorded = Files.readString(Path.of(args[0]));
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        int plainEvery = args.length > 4 ? Integer.parseInt(args[4]) : 5;
        String annotated = recorded;
        String plain = recorded.replace("\"mithril.io/cache\": \"enabled\"", "\"other\": \"x\"");
        if (!annotated.contains(RECORDED_UID) || plain.equals(annotated)) {
            throw new IllegalStateException("the recorded review no longer has the expected uid or annotation");
        }
        System.out.printf(
                Locale.ROOT,
                "# WebhookBench: %d client threads, %d s warm-up, %d s measured, 1 in %d pods"
                        + " without the annotation, java %s, %d cpus%n",
                threads,
                warmup,
                seconds,
                plainEvery,
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());

        CertificateAuthority ca = CertificateAuthority.create("mithril-webhook-ca", Duration.ofDays(365));
        CertificateAuthority.Issued serving =
                ca.issue(List.of("localhost", "mithril-webhook.mithril-system.svc"), Duration.ofDays(30));
        char[] pw = "changeit".toCharArray();
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ca.keyStore(serving, pw), pw);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ca.trustStore());
        SSLContext clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, tmf.getTrustManagers(), null);

        CompileCache cc = new CompileCache();
        cc.setMetadata(
                new ObjectMetaBuilder().withName("gpt").withNamespace("team-a").build());
        cc.setSpec(new CompileCacheSpec());
        List<CompileCache> inTeamA = List.of(cc);
        PodMutator mutator = new PodMutator(Injection.defaults());
        long[] one;
        long[] many;
        try (WebhookServer server = new WebhookServer(
                new InetSocketAddress("127.0.0.1", 0),
                serverTls,
                mutator,
                ns -> "team-a".equals(ns) ? inTeamA : List.of())) {
            server.start();
            // The HttpsServer speaks HTTP/1.1 only; its connections are kept alive and pooled by the client.
            HttpClient client = HttpClient.newBuilder()
                    .sslContext(clientTls)
                    .version(HttpClient.Version.HTTP_1_1)
                    .build();
            URI uri = URI.create("https://localhost:" + server.port() + "/mutate-pods");

            one = load(
                    client,
                    uri,
                    annotated,
                    plain,
                    1,
                    warmup,
                    Math.max(3, seconds / 4),
                    plainEvery,
                    "1 client thread (no queueing)");
            many = load(
                    client, uri, annotated, plain, threads, warmup, seconds, plainEvery, threads + " client threads");
        }
        inProcess(
                mutator,
                annotated,
                inTeamA,
                Math.max(3, seconds / 4),
                percentile(one, 50),
                percentile(many, 50),
                threads);
    }

    /** Runs {@code threads} clients for warm-up plus measured time; prints the measured requests' latency, returns the annotated ones. */
    static long[] load(
            HttpClient client,
            URI uri,
            String annotated,
            String plain,
            int threads,
            int warmup,
            int seconds,
            int plainEvery,
            String label)
            throws Exception {
        long start = System.nanoTime();
        long measureFrom = start + warmup * 1_000_000_000L;
        long end = measureFrom + seconds * 1_000_000_000L;
        LongList[] ann = new LongList[threads];
        LongList[] pl = new LongList[threads];
        AtomicLong errors = new AtomicLong();
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            LongList a = ann[t] = new LongList();
            LongList p = pl[t] = new LongList();
            Thread th = new Thread(
                    () -> {
                        try {
                            for (long i = 0; ; i++) {
                                boolean isPlain = i % plainEvery == plainEvery - 1;
                                String uid = UUID.randomUUID().toString();
                                String body = (isPlain ? plain : annotated).replace(RECORDED_UID, uid);
                                HttpRequest req = HttpRequest.newBuilder(uri)
                                        .header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(body))
                                        .build();
                                long t0 = System.nanoTime();
                                if (t0 >= end) {
                                    break;
                                }
                                HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
                                long t1 = System.nanoTime();
                                boolean ok = r.statusCode() == 200
                                        && r.body().contains(uid)
                                        && (isPlain != r.body().contains("\"patch\""));
                                if (!ok) {
                                    errors.incrementAndGet();
                                } else if (t0 >= measureFrom) {
                                    (isPlain ? p : a).add(t1 - t0);
                                }
                            }
                        } catch (Exception e) {
                            errors.incrementAndGet();
                            e.printStackTrace();
                        } finally {
                            done.countDown();
                        }
                    },
                    "bench-client-" + t);
            th.start();
        }
        done.await();
        long[] a = LongList.merge(ann);
        long[] p = LongList.merge(pl);
        System.out.printf(
                Locale.ROOT,
                "## HTTPS POST /mutate-pods, %s: %d requests in %d s = %.0f req/s, %d errors%n",
                label,
                a.length + p.length,
                seconds,
                (a.length + p.length) / (double) seconds,
                errors.get());
        System.out.println("  annotated GPU pod (JSON patch): " + summary(a, seconds));
        System.out.println("  pod without annotation:         " + summary(p, seconds));
        return a;
    }

    /** The mutator alone on the parsed pod, then with the server's JSON work around it, one thread. */
    static void inProcess(
            PodMutator mutator,
            String annotated,
            List<CompileCache> caches,
            int seconds,
            long httpsP50One,
            long httpsP50Many,
            int threads) {
        Pod pod = (Pod) Serialization.unmarshal(annotated, AdmissionReview.class)
                .getRequest()
                .getObject();
        long[] mutate = time(seconds, () -> {
            if (mutator.mutate(pod, caches).pod() == pod) {
                throw new IllegalStateException("not mutated");
            }
        });
        long[] withJson = time(seconds, () -> {
            AdmissionReview r = Serialization.unmarshal(annotated, AdmissionReview.class);
            PodMutator.Result res = mutator.mutate((Pod) r.getRequest().getObject(), caches);
            // what WebhookServer adds: the patch ops as JSON, base64, the response review as JSON
            String patch = Serialization.asJson(
                    List.of(res.pod().getSpec(), res.pod().getMetadata().getAnnotations()));
            r.setResponse(new io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder()
                    .withUid("u")
                    .withAllowed(true)
                    .withPatchType("JSONPatch")
                    .withWarnings(res.warnings())
                    .withPatch(java.util.Base64.getEncoder().encodeToString(patch.getBytes(StandardCharsets.UTF_8)))
                    .build());
            r.setRequest(null);
            Serialization.asJson(r);
        });
        System.out.printf(Locale.ROOT, "## in process, 1 thread, %d s each after as long a warm-up%n", seconds);
        System.out.println("  PodMutator.mutate alone:                 " + summary(mutate, seconds));
        System.out.println("  parse review + mutate + patch/response JSON: " + summary(withJson, seconds));
        double m = percentile(mutate, 50);
        double j = percentile(withJson, 50);
        System.out.printf(
                Locale.ROOT,
                "  p50 ratios (annotated pod): JSON+mutate / mutate = %.1fx; HTTPS 1 thread / mutate = %.1fx,"
                        + " / JSON+mutate = %.1fx; HTTPS %d threads / mutate = %.1fx, / JSON+mutate = %.1fx%n",
                j / m,
                httpsP50One / m,
                httpsP50One / j,
                threads,
                httpsP50Many / m,
                httpsP50Many / j);
    }

    static long[] time(int seconds, Runnable op) {
        long warmEnd = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            op.run();
        }
        LongList out = new LongList();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long t0;
        while ((t0 = System.nanoTime()) < end) {
            op.run();
            out.add(System.nanoTime() - t0);
        }
        long[] a = out.toArray();
        Arrays.sort(a);
        return a;
    }

    static String summary(long[] sorted, int seconds) {
        if (sorted.length == 0) {
            return "no samples";
        }
        return String.format(
                Locale.ROOT,
                "n %7d (%6.0f/s)  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
                sorted.length,
                sorted.length / (double) seconds,
                ms(percentile(sorted, 50)),
                ms(percentile(sorted, 90)),
                ms(percentile(sorted, 99)),
                ms(percentile(sorted, 99.9)),
                ms(sorted[sorted.length - 1]));
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%7.3f ms", nanos / 1e6);
    }

    /** Nearest-rank percentile of a sorted array. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    /** A growable array of longs (one per client thread, so recording takes no lock). */
    static final class LongList {
        long[] a = new long[1 << 14];
        int n;

        void add(long v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, n * 2);
            }
            a[n++] = v;
        }

        long[] toArray() {
            return Arrays.copyOf(a, n);
        }

        static long[] merge(LongList[] lists) {
            int total = 0;
            for (LongList l : lists) {
                total += l.n;
            }
            long[] out = new long[total];
            int at = 0;
            for (LongList l : lists) {
                System.arraycopy(l.a, 0, out, at, l.n);
                at += l.n;
            }
            Arrays.sort(out);
            return out;
        }
    }
}
