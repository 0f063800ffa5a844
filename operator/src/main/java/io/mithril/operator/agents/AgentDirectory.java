package io.mithril.operator.agents;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.mithril.operator.reconciler.NodeStats;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agents and what they last reported. Agents are the pods of the agent DaemonSet (found by
 * its label selector in the operator's namespace, from an informer: no API call per reconcile). Each
 * agent's {@code /v1/stats} is fetched at most once per {@code ttl} whatever the number of
 * CompileCaches reconciled in that time (a shared Caffeine cache, loads in parallel), so 100
 * CompileCaches and 50 agents cost 50 small HTTP requests per period, not 5,000.
 */
public final class AgentDirectory implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AgentDirectory.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The agent container's port of this name serves /v1/stats. */
    public static final String PORT_NAME = "http";

    /** Settings, parsed once in main. */
    public record Config(String namespace, String labelSelector, int defaultPort, Duration ttl, Duration timeout) {
        public static Config defaults(String namespace) {
            return new Config(
                    namespace,
                    "app.kubernetes.io/component=node-agent",
                    9464,
                    Duration.ofSeconds(15),
                    Duration.ofSeconds(2));
        }
    }

    /** What the agents said: how many were asked, and the reports of those that answered. */
    public record Snapshot(int asked, List<NodeStats> reports) {}

    private record Agent(String node, String url) {}

    private final KubernetesClient client;
    private final Config config;
    private final OkHttpClient http;
    private final ExecutorService fetchers = Executors.newFixedThreadPool(8, r -> {
        Thread t = new Thread(r, "mithril-agent-stats");
        t.setDaemon(true);
        return t;
    });
    private final AsyncLoadingCache<Agent, NodeStats> stats;
    private final LongAdder fetches = new LongAdder();
    private SharedIndexInformer<Pod> pods;

    public AgentDirectory(KubernetesClient client, Config config, Ticker ticker) {
        this.client = client;
        this.config = config;
        this.http = new OkHttpClient.Builder()
                .connectTimeout(config.timeout())
                .readTimeout(config.timeout())
                .callTimeout(config.timeout().multipliedBy(2))
                .retryOnConnectionFailure(false)
                .build();
        this.stats = Caffeine.newBuilder()
                .ticker(ticker)
                .expireAfterWrite(config.ttl())
                .maximumSize(10_000)
                .executor(fetchers)
                .buildAsync(this::fetch);
    }

    public void start() {
        pods = client.pods()
                .inNamespace(config.namespace())
                .withLabelSelector(config.labelSelector())
                .inform();
    }

    public boolean synced() {
        return pods != null && pods.hasSynced();
    }

    /** Every ready agent's report (cached), waiting at most the timeout for agents not cached yet. */
    public Snapshot snapshot() {
        List<Agent> agents = agents();
        List<CompletableFuture<NodeStats>> futures = new ArrayList<>(agents.size());
        for (Agent a : agents) {
            futures.add(stats.get(a));
        }
        List<NodeStats> out = new ArrayList<>();
        long deadline = System.nanoTime() + config.timeout().toNanos() * 2;
        for (int i = 0; i < futures.size(); i++) {
            try {
                NodeStats s = futures.get(i).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (s != null) {
                    out.add(s);
                }
            } catch (ExecutionException | TimeoutException e) {
                log.debug("agent on {} did not answer: {}", agents.get(i).node(), e.toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return new Snapshot(agents.size(), out);
    }

    /** HTTP requests made to agents so far (for the benchmark and tests). */
    public long fetches() {
        return fetches.sum();
    }

    private List<Agent> agents() {
        List<Agent> out = new ArrayList<>();
        if (pods == null) {
            return out;
        }
        for (Pod p : pods.getStore().list()) {
            if (p.getStatus() == null
                    || p.getStatus().getPodIP() == null
                    || p.getMetadata().getDeletionTimestamp() != null
                    || !ready(p)) {
                continue;
            }
            String ip = p.getStatus().getPodIP();
            String host = ip.contains(":") ? "[" + ip + "]" : ip;
            out.add(new Agent(p.getSpec().getNodeName(), "http://" + host + ":" + port(p) + "/v1/stats"));
        }
        return out;
    }

    private static boolean ready(Pod p) {
        if (p.getStatus().getConditions() == null) {
            return false;
        }
        for (PodCondition c : p.getStatus().getConditions()) {
            if ("Ready".equals(c.getType())) {
                return "True".equals(c.getStatus());
            }
        }
        return false;
    }

    private int port(Pod p) {
        for (Container c : p.getSpec().getContainers()) {
            for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                if (PORT_NAME.equals(cp.getName()) && cp.getContainerPort() != null) {
                    return cp.getContainerPort();
                }
            }
        }
        return config.defaultPort();
    }

    private NodeStats fetch(Agent a) throws IOException {
        fetches.increment();
        try (Response r =
                http.newCall(new Request.Builder().url(a.url()).get().build()).execute()) {
            if (!r.isSuccessful()) {
                throw new IOException("agent on " + a.node() + " answered " + r.code());
            }
            return parse(a.node(), r.body().string());
        }
    }

    /** The agent's /v1/stats JSON as the reconciler needs it; unknown fields are ignored. */
    public static NodeStats parse(String node, String json) throws IOException {
        JsonNode root = JSON.readTree(json);
        List<NodeStats.Group> groups = new ArrayList<>();
        for (JsonNode g : root.path("groups")) {
            Map<String, Long> runs = new TreeMap<>();
            g.path("runs").fields().forEachRemaining(f -> {
                if (f.getValue().canConvertToLong() && f.getValue().asLong() > 0) {
                    runs.put(f.getKey(), f.getValue().asLong());
                }
            });
            groups.add(new NodeStats.Group(
                    g.path("namespace").asText(),
                    g.path("cache").asText(),
                    g.path("device").asText(),
                    g.path("product").asText(),
                    g.path("entries").asLong(),
                    g.path("bytes").asLong(),
                    g.path("hits").asLong(),
                    g.path("misses").asLong(),
                    g.path("lastUse").isTextual() ? g.path("lastUse").asText() : null,
                    runs,
                    new NodeStats.Remote(
                            g.path("remote").path("fetched").asLong(),
                            g.path("remote").path("fetchedBytes").asLong(),
                            g.path("remote").path("uploaded").asLong(),
                            g.path("remote").path("uploadedBytes").asLong())));
        }
        NodeStats.RemoteHeld held = null;
        JsonNode h = root.path("remoteHeld");
        if (h.path("at").isTextual()) {
            List<NodeStats.Held> caches = new ArrayList<>();
            for (JsonNode c : h.path("caches")) {
                caches.add(new NodeStats.Held(
                        c.path("namespace").asText(),
                        c.path("cache").asText(),
                        c.path("entries").asLong(),
                        c.path("bytes").asLong()));
            }
            held = new NodeStats.RemoteHeld(h.path("at").asText(), caches);
        }
        return new NodeStats(node, groups, held);
    }

    @Override
    public void close() {
        if (pods != null) {
            pods.close();
        }
        fetchers.shutdownNow();
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
    }
}
