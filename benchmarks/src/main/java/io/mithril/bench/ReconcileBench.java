package io.mithril.bench;

import com.github.benmanes.caffeine.cache.Ticker;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.agents.AgentDirectory;
import io.mithril.operator.reconciler.CompileCacheReconciler;
import io.mithril.operator.reconciler.Events;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Prints the CompileCache reconciler's cost in JOSDK against fabric8's mock API server (CRUD mode,
 * server-side apply off, as in {@code CompileCacheReconcilerIT}): N fake node agents (JDK HttpServers
 * answering {@code /v1/stats}, each reporting groups for 1 in 5 of the CompileCaches, so every cache is
 * on N/5 nodes) behind N agent pods, then M CompileCaches across K namespaces.
 * <ol>
 *   <li>first full reconcile: time from creating the CompileCaches until the bench's own informer has
 *       seen a status with {@code nodes > 0} on every one; wall time per reconcile (a delegating
 *       reconciler times the production one); API requests by verb and resource; agent fetches;</li>
 *   <li>steady state: every CompileCache reconciled once more by its resync with nothing changed; API
 *       writes (expected 0), reads and agent fetches.</li>
 * </ol>
 * The operator's client and the bench's client send different User-Agent headers, so the bench's own
 * requests (creating the CompileCaches, watching for the statuses) are counted apart.
 *
 * <p>Usage: {@code ReconcileBench [agents=50] [compileCaches=100] [namespaces=10] [resyncSeconds=30]}.
 */
public final class ReconcileBench {

    static final String BENCH_AGENT = "mithril-bench";
    static final String SYSTEM_NS = "mithril-system";
    /** Held so the level sticks: the mock web server logs every request at INFO through java.util.logging. */
    static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

    /** Times every reconcile of the production reconciler; registered under the same controller name. */
    @ControllerConfiguration(name = "compilecache")
    static final class Timed implements Reconciler<CompileCache> {
        final CompileCacheReconciler delegate;
        final List<long[]> calls = new ArrayList<>(); // {start, nanos, patched 0/1}
        final Map<String, Long> lastStart = new ConcurrentHashMap<>();

        Timed(CompileCacheReconciler delegate) {
            this.delegate = delegate;
        }

        @Override
        public UpdateControl<CompileCache> reconcile(
                CompileCache cc, io.javaoperatorsdk.operator.api.reconciler.Context<CompileCache> ctx)
                throws Exception {
            long t0 = System.nanoTime();
            lastStart.put(
                    cc.getMetadata().getNamespace() + "/" + cc.getMetadata().getName(), t0);
            UpdateControl<CompileCache> r = delegate.reconcile(cc, ctx);
            long dt = System.nanoTime() - t0;
            synchronized (calls) {
                calls.add(new long[] {
                    t0, dt, r.isPatchStatus() || r.isPatchResource() || r.isPatchResourceAndStatus() ? 1 : 0
                });
            }
            return r;
        }

        List<long[]> since(long from, long to) {
            synchronized (calls) {
                return calls.stream().filter(c -> c[0] >= from && c[0] < to).toList();
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int nAgents = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int nCaches = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int nNamespaces = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        Duration resync = Duration.ofSeconds(args.length > 3 ? Integer.parseInt(args[3]) : 30);
        System.out.printf(
                Locale.ROOT,
                "# ReconcileBench: %d agents, %d CompileCaches in %d namespaces, resync %d s, java %s, %d cpus%n",
                nAgents,
                nCaches,
                nNamespaces,
                resync.toSeconds(),
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());
        MOCK_LOG.setLevel(java.util.logging.Level.WARNING);

        KubernetesMockServer server = new KubernetesMockServer(
                new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(), false);
        server.init();
        KubernetesClient opClient = server.createClient();
        KubernetesClient bench = new KubernetesClientBuilder()
                .withConfig(new ConfigBuilder(opClient.getConfiguration())
                        .withUserAgent(BENCH_AGENT)
                        .build())
                .build();
        List<HttpServer> agents = new ArrayList<>();
        Operator operator = null;
        AgentDirectory directory = null;
        SharedIndexInformer<CompileCache> watch = null;
        try {
            long t = System.nanoTime();
            for (int a = 0; a < nAgents; a++) {
                agents.add(agent(bench, a, nAgents, nCaches, nNamespaces));
            }
            directory = new AgentDirectory(opClient, AgentDirectory.Config.defaults(SYSTEM_NS), Ticker.systemTicker());
            directory.start();
            while (!directory.synced()) {
                Thread.sleep(10);
            }
            Timed timed = new Timed(new CompileCacheReconciler(
                    directory, new Events(opClient, Clock.systemUTC()), Clock.systemUTC(), resync));
            operator = new Operator(o -> o.withKubernetesClient(opClient)
                    .withCloseClientOnStop(false)
                    .withUseSSAToPatchPrimaryResource(false)
                    .withSSABasedCreateUpdateMatchForDependentResources(false));
            operator.register(timed);
            operator.start();
            System.out.printf(
                    Locale.ROOT,
                    "setup: %d agent pods and servers, directory and operator started in %.1f s; "
                            + "%d reconcile threads (JOSDK default); agent stats TTL %d s%n",
                    nAgents,
                    (System.nanoTime() - t) / 1e9,
                    operator.getConfigurationService().concurrentReconciliationThreads(),
                    AgentDirectory.Config.defaults(SYSTEM_NS).ttl().toSeconds());

            Set<String> done = ConcurrentHashMap.newKeySet();
            long[] allDoneAt = {0};
            watch = bench.resources(CompileCache.class)
                    .inAnyNamespace()
                    .inform(new ResourceEventHandler<CompileCache>() {
                        @Override
                        public void onAdd(CompileCache cc) {
                            check(cc);
                        }

                        @Override
                        public void onUpdate(CompileCache o, CompileCache cc) {
                            check(cc);
                        }

                        @Override
                        public void onDelete(CompileCache cc, boolean unknown) {}

                        private void check(CompileCache cc) {
                            if (cc.getStatus() != null
                                    && cc.getStatus().getNodes() != null
                                    && cc.getStatus().getNodes() > 0
                                    && done.add(cc.getMetadata().getNamespace() + "/"
                                            + cc.getMetadata().getName())
                                    && done.size() == nCaches) {
                                synchronized (done) {
                                    allDoneAt[0] = System.nanoTime();
                                    done.notifyAll();
                                }
                            }
                        }
                    });
            Thread.sleep(500); // let every watch settle before counting
            Counts setup = Counts.drain(server);
            System.out.printf(Locale.ROOT, "setup API requests (not counted below): %d%n", setup.total());

            // 1. first full reconcile
            long f0 = System.nanoTime();
            long fetches0 = directory.fetches();
            for (int c = 0; c < nCaches; c++) {
                CompileCache cc = new CompileCache();
                cc.setMetadata(new ObjectMetaBuilder()
                        .withName(cacheName(c))
                        .withNamespace(namespace(c, nNamespaces))
                        .build());
                CompileCacheSpec spec = new CompileCacheSpec();
                spec.setBudget("20Gi");
                cc.setSpec(spec);
                bench.resource(cc).create();
            }
            long created = System.nanoTime();
            synchronized (done) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (allDoneAt[0] == 0 && System.nanoTime() < deadline) {
                    done.wait(100);
                }
            }
            if (allDoneAt[0] == 0) {
                throw new IllegalStateException(
                        "only " + done.size() + " of " + nCaches + " CompileCaches got a status in 120 s");
            }
            long f1 = allDoneAt[0];
            Thread.sleep(1000); // stragglers: reconciles the status patches themselves might cause
            long f2 = System.nanoTime();
            Counts first = Counts.drain(server);
            long fetches1 = directory.fetches();
            List<long[]> firstCalls = timed.since(f0, f2);
            System.out.printf(Locale.ROOT, "%n## first full reconcile of %d new CompileCaches%n", nCaches);
            System.out.printf(
                    Locale.ROOT,
                    "created %d one after another in %.0f ms; all %d had a status with nodes > 0 %.0f ms after"
                            + " the first create (%.0f ms after the last)%n",
                    nCaches,
                    (created - f0) / 1e6,
                    nCaches,
                    (f1 - f0) / 1e6,
                    (f1 - created) / 1e6);
            perReconcile(firstCalls, nCaches);
            first.print(nCaches, firstCalls.size());
            System.out.printf(
                    Locale.ROOT,
                    "agent /v1/stats fetches: %d (%.2f per reconcile; %d agents)%n",
                    fetches1 - fetches0,
                    (fetches1 - fetches0) / (double) Math.max(1, firstCalls.size()),
                    nAgents);
            check(bench, nCaches, nAgents);
            Counts.drain(server); // the check's own LIST

            // 2. steady state: wait for every CompileCache's resync, nothing changed anywhere
            long s0 = System.nanoTime();
            long fetches2 = directory.fetches();
            long deadline = s0 + resync.toNanos() * 2 + TimeUnit.SECONDS.toNanos(30);
            while (timed.lastStart.values().stream().filter(v -> v > s0).count() < nCaches
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Thread.sleep(1000);
            long s1 = System.nanoTime();
            Counts steady = Counts.drain(server);
            List<long[]> steadyCalls = timed.since(s0, s1);
            long fetches3 = directory.fetches();
            System.out.printf(
                    Locale.ROOT,
                    "%n## steady state: resync of all %d with nothing changed (%.1f s window)%n",
                    nCaches,
                    (s1 - s0) / 1e9);
            perReconcile(steadyCalls, nCaches);
            steady.print(nCaches, steadyCalls.size());
            System.out.printf(
                    Locale.ROOT,
                    "agent /v1/stats fetches: %d (%.2f per reconcile; the %d s TTL had expired)%n",
                    fetches3 - fetches2,
                    (fetches3 - fetches2) / (double) Math.max(1, steadyCalls.size()),
                    AgentDirectory.Config.defaults(SYSTEM_NS).ttl().toSeconds());
            System.out.printf(
                    Locale.ROOT, "API writes by the operator in steady state: %d (expected 0)%n", steady.writes());
        } finally {
            if (watch != null) {
                watch.close();
            }
            if (operator != null) {
                operator.stop();
            }
            if (directory != null) {
                directory.close();
            }
            agents.forEach(s -> s.stop(0));
            bench.close();
            opClient.close();
            server.destroy();
        }
        System.exit(0);
    }

    static String cacheName(int c) {
        return String.format(Locale.ROOT, "cache-%03d", c);
    }

    static String namespace(int c, int nNamespaces) {
        return String.format(Locale.ROOT, "team-%02d", c % nNamespaces);
    }

    /** A fake agent on loopback: reports a group for every CompileCache c with c % 5 == a % 5, and its pod. */
    static HttpServer agent(KubernetesClient bench, int a, int nAgents, int nCaches, int nNamespaces) throws Exception {
        StringBuilder json = new StringBuilder("{\"node\":\"gpu-" + a + "\",\"groups\":[");
        boolean firstGroup = true;
        for (int c = 0; c < nCaches; c++) {
            if (c % 5 != a % 5) {
                continue;
            }
            json.append(firstGroup ? "" : ",")
                    .append(String.format(
                            Locale.ROOT,
                            "{\"namespace\":\"%s\",\"cache\":\"%s\",\"device\":\"%s\",\"product\":\"nvidia-h100\",\"entries\":%d,"
                                    + "\"bytes\":%d,\"budget\":null,\"hits\":%d,\"misses\":%d,\"lastUse\":\"2026-11-26T10:00:00Z\"}",
                            namespace(c, nNamespaces),
                            cacheName(c),
                            a % 2 == 0 ? "cuda-9.0" : "cuda-8.0",
                            100 + a + c,
                            (64L << 20) + a * 4096L + c,
                            300 + a,
                            20 + c));
            firstGroup = false;
        }
        byte[] body = json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.createContext("/v1/stats", ex -> {
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        s.start();
        bench.pods()
                .inNamespace(SYSTEM_NS)
                .resource(new PodBuilder()
                        .withNewMetadata()
                        .withName("agent-" + a)
                        .withNamespace(SYSTEM_NS)
                        .addToLabels("app.kubernetes.io/component", "node-agent")
                        .endMetadata()
                        .withNewSpec()
                        .withNodeName("gpu-" + a)
                        .addNewContainer()
                        .withName("agent")
                        .withImage("mithril-agent")
                        .addNewPort()
                        .withName("http")
                        .withContainerPort(s.getAddress().getPort())
                        .endPort()
                        .endContainer()
                        .endSpec()
                        .withNewStatus()
                        .withPodIP("127.0.0.1")
                        .addNewCondition()
                        .withType("Ready")
                        .withStatus("True")
                        .endCondition()
                        .endStatus()
                        .build())
                .create();
        return s;
    }

    static void perReconcile(List<long[]> calls, int nCaches) {
        long[] nanos = calls.stream().mapToLong(c -> c[1]).sorted().toArray();
        long patched = calls.stream().filter(c -> c[2] == 1).count();
        if (nanos.length == 0) {
            System.out.println("no reconciles");
            return;
        }
        long slow = Arrays.stream(nanos).filter(n -> n > 10_000_000L).count();
        System.out.printf(
                Locale.ROOT,
                "reconciles: %d for %d CompileCaches (%d returned a status patch); wall time per reconcile:"
                        + " p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (sum %.0f ms; %d over 10 ms)%n",
                nanos.length,
                nCaches,
                patched,
                WebhookBench.percentile(nanos, 50) / 1e6,
                WebhookBench.percentile(nanos, 90) / 1e6,
                WebhookBench.percentile(nanos, 99) / 1e6,
                nanos[nanos.length - 1] / 1e6,
                Arrays.stream(nanos).sum() / 1e6,
                slow);
    }

    static void check(KubernetesClient bench, int nCaches, int nAgents) {
        List<CompileCache> all =
                bench.resources(CompileCache.class).inAnyNamespace().list().getItems();
        long right = all.stream()
                .filter(cc -> cc.getStatus() != null && cc.getStatus().getNodes() == nAgents / 5)
                .count();
        System.out.printf(
                Locale.ROOT,
                "check: %d of %d CompileCaches report nodes=%d (bench's own LIST, not counted)%n",
                right,
                nCaches,
                nAgents / 5);
    }

    /** API requests the mock server received since the last drain, by client and verb/resource. */
    record Counts(Map<String, Integer> operator, Map<String, Integer> benchOwn) {

        static Counts drain(KubernetesMockServer server) throws InterruptedException {
            Map<String, Integer> op = new TreeMap<>();
            Map<String, Integer> own = new TreeMap<>();
            RecordedRequest r;
            while ((r = server.takeRequest(50, TimeUnit.MILLISECONDS)) != null) {
                String ua = r.getHeader("User-Agent");
                (ua != null && ua.contains(BENCH_AGENT) ? own : op).merge(kind(r), 1, Integer::sum);
            }
            return new Counts(op, own);
        }

        /** e.g. "PATCH compilecaches/status", "GET pods (watch)", "POST events". */
        static String kind(RecordedRequest r) {
            String path = r.getPath();
            String query = "";
            int q = path.indexOf('?');
            if (q >= 0) {
                query = path.substring(q + 1);
                path = path.substring(0, q);
            }
            List<String> seg = new ArrayList<>(Arrays.asList(path.split("/")));
            seg.removeIf(String::isEmpty);
            int ns = seg.indexOf("namespaces");
            List<String> rest = ns >= 0 && seg.size() > ns + 2
                    ? seg.subList(ns + 2, seg.size())
                    : seg.subList(Math.min(seg.size(), seg.get(0).equals("api") ? 2 : 3), seg.size());
            String res = rest.isEmpty() ? path : rest.get(0) + (rest.size() > 2 ? "/" + rest.get(2) : "");
            String how = query.contains("watch=true")
                    ? " (watch)"
                    : rest.size() == 1 && "GET".equals(r.getMethod()) ? " (list)" : "";
            return r.getMethod() + " " + res + how;
        }

        int total() {
            return operator.values().stream().mapToInt(Integer::intValue).sum()
                    + benchOwn.values().stream().mapToInt(Integer::intValue).sum();
        }

        int writes() {
            return operator.entrySet().stream()
                    .filter(e -> !e.getKey().startsWith("GET"))
                    .mapToInt(Map.Entry::getValue)
                    .sum();
        }

        void print(int nCaches, int reconciles) {
            int ops = operator.values().stream().mapToInt(Integer::intValue).sum();
            System.out.printf(
                    Locale.ROOT,
                    "API requests by the operator: %d (%.2f per reconcile, %.2f per CompileCache), writes %d: %s%n",
                    ops,
                    ops / (double) Math.max(1, reconciles),
                    ops / (double) nCaches,
                    writes(),
                    operator);
            System.out.printf(Locale.ROOT, "API requests by the bench itself (not the operator's): %s%n", benchOwn);
        }
    }
}
