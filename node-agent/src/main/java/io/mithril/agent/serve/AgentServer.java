package io.mithril.agent.serve;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.remote.RemoteGc;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code mithril-agent serve}: the long-running agent's HTTP API.
 * <ul>
 *   <li>{@code GET /healthz}: 200 while the process runs.</li>
 *   <li>{@code GET /readyz}: 200 once the store is open and answers, else 503.</li>
 *   <li>{@code GET /metrics}: Prometheus text format.</li>
 *   <li>{@code GET /v1/stats}: JSON, the store and each group (what the operator aggregates).</li>
 * </ul>
 * Every failure maps to a status and a one-line text body in {@link #handle}; no stack traces leave.
 */
public final class AgentServer implements AutoCloseable {

    /**
     * The JDK server reads its timeouts once, when its first server starts: a client that sends part
     * of a request and stops is cut off after 3 s (the API server's admission timeout; its requests
     * arrive whole), a response that cannot be written after 30 s. Set here unless the JVM was given
     * other values; a server created earlier in the same JVM would fix them before this runs.
     */
    static {
        System.setProperty("sun.net.httpserver.maxReqTime", System.getProperty("sun.net.httpserver.maxReqTime", "3"));
        System.setProperty("sun.net.httpserver.maxRspTime", System.getProperty("sun.net.httpserver.maxRspTime", "30"));
    }

    private static final Logger log = LoggerFactory.getLogger(AgentServer.class);

    private final NodeStore store;
    private final AgentMetrics metrics;
    private final HttpServer http;
    private final ExecutorService pool;

    public AgentServer(NodeStore store, AgentMetrics metrics, InetSocketAddress listen) throws IOException {
        this.store = store;
        this.metrics = metrics;
        this.http = HttpServer.create(listen, 64);
        // Requests (and TLS handshakes) are read on these threads: a few slow or stalled clients must not
        // hold them all, or health checks stop answering. 32 threads (made as needed), and stalled reads
        // end at sun.net.httpserver.maxReqTime (static block). A queue, never a rejection: the JDK
        // server does not expect its executor to refuse work.
        this.pool = Executors.newFixedThreadPool(32, r -> {
            Thread t = new Thread(r, "mithril-http");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(pool);
        http.createContext("/", this::handle);
    }

    private volatile BooleanSupplier ready = () -> true;

    /** An extra readiness condition (Kubernetes mode: the agent's informers have synced). */
    public void readiness(BooleanSupplier condition) {
        this.ready = condition;
    }

    public void start() {
        http.start();
    }

    public int port() {
        return http.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                send(ex, 405, "text/plain", "method not allowed\n");
                return;
            }
            try {
                switch (path) {
                    case "/healthz" -> send(ex, 200, "text/plain", "ok\n");
                    case "/readyz" -> {
                        store.stats();
                        if (ready.getAsBoolean()) {
                            send(ex, 200, "text/plain", "ready\n");
                        } else {
                            send(ex, 503, "text/plain", "not ready: still syncing with the API server\n");
                        }
                    }
                    case "/metrics" ->
                        send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(store.stats()));
                    case "/v1/stats" -> send(ex, 200, "application/json", statsJson(store.stats(), metrics));
                    default -> send(ex, 404, "text/plain", "not found: " + path.replaceAll("\\p{Cntrl}", "?") + "\n");
                }
            } catch (IllegalStateException closed) {
                send(ex, 503, "text/plain", "store not available\n");
            } catch (IOException | RuntimeException e) {
                log.warn("{} failed: {}", path, e.toString());
                send(ex, path.equals("/readyz") ? 503 : 500, "text/plain", "internal error\n");
            }
        }
    }

    /**
     * The JSON the operator aggregates: per group its entries, bytes, budget, hits and misses since
     * this agent started, and last use (ISO-8601 UTC, or null).
     */
    public static String statsJson(StoreStats s, AgentMetrics metrics) {
        StringBuilder b = new StringBuilder("{\"bytes\":")
                .append(s.bytes())
                .append(",\"entries\":")
                .append(s.entries())
                .append(",\"blobs\":")
                .append(s.blobs())
                .append(",\"hardLimit\":")
                .append(s.hardLimit() >= StoreConfig.UNLIMITED ? "null" : s.hardLimit())
                .append(",\"groups\":[");
        String sep = "";
        for (StoreStats.Group g : s.groups()) {
            b.append(sep)
                    .append(String.format(
                            Locale.ROOT,
                            "{\"namespace\":\"%s\",\"cache\":\"%s\",\"device\":\"%s\",\"product\":\"%s\",\"entries\":%d,\"bytes\":%d,"
                                    + "\"budget\":%s,\"hits\":%d,\"misses\":%d,\"runs\":%s,\"lastUse\":%s,"
                                    + "\"remote\":{\"fetched\":%d,\"fetchedBytes\":%d,\"uploaded\":%d,\"uploadedBytes\":%d}}",
                            g.group().namespace(),
                            g.group().cache(),
                            g.group().device().text(),
                            g.group().product().slug(),
                            g.entries(),
                            g.bytes(),
                            g.budget() == null ? "null" : g.budget().toString(),
                            metrics.groupCounts(g.group()).hits(),
                            metrics.groupCounts(g.group()).misses(),
                            runsJson(metrics.groupCounts(g.group()).runs()),
                            g.lastUseMillis() <= 0
                                    ? "null"
                                    : "\""
                                            + Instant.ofEpochMilli(g.lastUseMillis())
                                                    .truncatedTo(ChronoUnit.SECONDS) + "\"",
                            metrics.groupCounts(g.group()).remoteFetched(),
                            metrics.groupCounts(g.group()).remoteFetchedBytes(),
                            metrics.groupCounts(g.group()).remoteUploaded(),
                            metrics.groupCounts(g.group()).remoteUploadedBytes()));
            sep = ",";
        }
        b.append(']');
        AgentMetrics.RemoteHeld held = metrics.remoteHeld();
        if (held != null) {
            b.append(",\"remoteHeld\":{\"at\":\"")
                    .append(held.at().truncatedTo(ChronoUnit.SECONDS))
                    .append("\",\"caches\":[");
            String comma = "";
            for (Map.Entry<String, RemoteGc.Held> e : new TreeMap<>(held.byCache()).entrySet()) {
                int slash = e.getKey().indexOf('/');
                b.append(comma)
                        .append(String.format(
                                Locale.ROOT,
                                "{\"namespace\":\"%s\",\"cache\":\"%s\",\"entries\":%d,\"bytes\":%d}",
                                e.getKey().substring(0, slash),
                                e.getKey().substring(slash + 1),
                                e.getValue().entries(),
                                e.getValue().bytes()));
                comma = ",";
            }
            b.append("]}");
        }
        return b.append("}\n").toString();
    }

    /** {@code {"warm":3,"keyChanged":1}}: the outcomes that happened. */
    static String runsJson(Map<Outcome, Long> runs) {
        StringBuilder b = new StringBuilder("{");
        runs.forEach((o, n) -> b.append(b.length() > 1 ? "," : "")
                .append('"')
                .append(o.key())
                .append("\":")
                .append(n));
        return b.append('}').toString();
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        http.stop(0);
        pool.shutdownNow();
    }
}
