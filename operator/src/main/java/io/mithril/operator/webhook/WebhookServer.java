package io.mithril.operator.webhook;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.metrics.OperatorMetrics;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mutating admission webhook over HTTPS ({@code POST /mutate-pods}, AdmissionReview v1): a thin
 * adapter around {@link PodMutator}. Every failure is mapped in one place ({@link #handle}): a
 * malformed review is a 400 with a one-line reason; anything else still admits the pod unchanged
 * (fail-open, as {@code failurePolicy: Ignore} would), with a warning. No stack trace leaves.
 */
public final class WebhookServer implements AutoCloseable {

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

    private static final Logger log = LoggerFactory.getLogger(WebhookServer.class);
    static final int MAX_BODY = 3 << 20; // the API server's request limit is about 3 MiB

    /** CompileCaches of a namespace, from an informer cache (never a per-request API call). */
    @FunctionalInterface
    public interface CacheLookup {
        List<CompileCache> inNamespace(String namespace);
    }

    private final HttpsServer https;
    private final SwitchableSslContext tls;
    private final ExecutorService pool;
    private final PodMutator mutator;
    private final CacheLookup caches;
    private final NamespacePolicy.Lookup namespaces;
    private final ConfigMapLookup configMaps;
    private final OperatorMetrics metrics;

    public WebhookServer(InetSocketAddress listen, SSLContext tls, PodMutator mutator, CacheLookup caches)
            throws IOException {
        this(listen, tls, mutator, caches, NamespacePolicy.Lookup.NONE, new OperatorMetrics());
    }

    /** Without reading ConfigMaps: a container's {@code envFrom} ConfigMap is then treated as unreadable (injected, warned). */
    public WebhookServer(
            InetSocketAddress listen,
            SSLContext tls,
            PodMutator mutator,
            CacheLookup caches,
            NamespacePolicy.Lookup namespaces,
            OperatorMetrics metrics)
            throws IOException {
        this(listen, tls, mutator, caches, namespaces, ConfigMapLookup.NONE, metrics);
    }

    /** {@code configMaps}: how the ConfigMaps of the containers' {@code envFrom} are read ({@link KubeConfigMapLookup}). */
    public WebhookServer(
            InetSocketAddress listen,
            SSLContext tls,
            PodMutator mutator,
            CacheLookup caches,
            NamespacePolicy.Lookup namespaces,
            ConfigMapLookup configMaps,
            OperatorMetrics metrics)
            throws IOException {
        this.mutator = mutator;
        this.caches = caches;
        this.namespaces = namespaces;
        this.configMaps = configMaps;
        this.metrics = metrics;
        this.https = HttpsServer.create(listen, 128);
        this.tls = SwitchableSslContext.of(tls);
        this.https.setHttpsConfigurator(new HttpsConfigurator(this.tls));
        // Requests (and TLS handshakes) are read on these threads: a few slow or stalled clients must not
        // hold them all, or health checks stop answering. 32 threads (made as needed), and stalled reads
        // end at sun.net.httpserver.maxReqTime (static block). A queue, never a rejection: the JDK
        // server does not expect its executor to refuse work.
        this.pool = Executors.newFixedThreadPool(32, r -> {
            Thread t = new Thread(r, "mithril-webhook");
            t.setDaemon(true);
            return t;
        });
        https.setExecutor(pool);
        https.createContext("/mutate-pods", this::handle);
        https.createContext("/healthz", ex -> {
            try (ex) {
                send(ex, 200, "text/plain", "ok\n".getBytes(StandardCharsets.UTF_8));
            }
        });
    }

    /** Warms the admission path ({@link #warmUp()}), then serves: the port answers only once it is warm. */
    public void start() {
        long t0 = System.nanoTime();
        warmUp();
        log.info("admission path warmed up in {} ms", (System.nanoTime() - t0) / 1_000_000);
        https.start();
    }

    /**
     * Runs one synthetic admission through what a real one runs (parse, mutate, patch, serialise the
     * answer), in process. A fresh JVM loads and links a few thousand classes on its first admission;
     * on a node with little CPU that took more than the webhook's 3 s timeout, so the first pod after
     * every rollout got no cache (the API server fails open). Nothing here reaches the API server.
     *
     * @return whether the synthetic pod went all the way (injected), so that the whole path ran
     */
    boolean warmUp() {
        try {
            Pod pod = new PodBuilder()
                    .withNewMetadata()
                    .withName("warm-up")
                    .withNamespace("mithril-warm-up")
                    .addToAnnotations(CompileCache.ANNOTATION_ENABLED, "enabled")
                    .endMetadata()
                    .withNewSpec()
                    .addNewContainer()
                    .withName("c")
                    .withImage("warm-up")
                    .withNewResources()
                    .addToLimits(Injection.GPU_RESOURCE, new Quantity("1"))
                    .endResources()
                    .endContainer()
                    .endSpec()
                    .build();
            CompileCache cc = new CompileCache();
            cc.setMetadata(new ObjectMetaBuilder()
                    .withName("warm-up")
                    .withNamespace("mithril-warm-up")
                    .build());
            cc.setSpec(new CompileCacheSpec());
            AdmissionReview review = new AdmissionReviewBuilder()
                    .withApiVersion("admission.k8s.io/v1")
                    .withKind("AdmissionReview")
                    .withNewRequest()
                    .withUid("warm-up")
                    .withOperation("CREATE")
                    .withNamespace("mithril-warm-up")
                    .withObject(pod)
                    .endRequest()
                    .build();
            AdmissionReview back =
                    parse(new ByteArrayInputStream(Serialization.asJson(review).getBytes(StandardCharsets.UTF_8)));
            PodMutator.Result r = mutator.mutate(
                    (Pod) back.getRequest().getObject(), List.of(cc), NamespacePolicy.NONE, ConfigMapLookup.NONE);
            AdmissionReview out = new AdmissionReview();
            out.setResponse(new AdmissionResponseBuilder()
                    .withUid("warm-up")
                    .withAllowed(true)
                    .withPatchType("JSONPatch")
                    .withPatch(Base64.getEncoder().encodeToString(patch(r.pod()).getBytes(StandardCharsets.UTF_8)))
                    .build());
            Serialization.asJson(out);
            return r.pod() != back.getRequest().getObject();
        } catch (IOException | BadReview | RuntimeException e) {
            log.warn("warm-up of the admission path failed (the first admission will be slower): {}", e.toString());
            return false;
        }
    }

    public int port() {
        return https.getAddress().getPort();
    }

    /**
     * Serves new connections with {@code next} (a renewed certificate); connections already open keep the
     * context they were accepted with.
     */
    public void reloadTls(SSLContext next) {
        tls.set(next);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!"POST".equals(ex.getRequestMethod())) {
                send(ex, 405, "text/plain", "POST an AdmissionReview\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            long start = System.nanoTime();
            AdmissionReview review;
            try {
                review = parse(ex.getRequestBody());
            } catch (BadReview e) {
                send(
                        ex,
                        400,
                        "text/plain",
                        ("malformed AdmissionReview: " + e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
                metrics.admission(OperatorMetrics.Admission.MALFORMED, System.nanoTime() - start);
                return;
            }
            AdmissionResponse response = decide(review.getRequest());
            metrics.admission(outcome(response), System.nanoTime() - start);
            AdmissionReview out = new AdmissionReview();
            out.setApiVersion("admission.k8s.io/v1");
            out.setKind("AdmissionReview");
            out.setResponse(response);
            send(ex, 200, "application/json", Serialization.asJson(out).getBytes(StandardCharsets.UTF_8));
        }
    }

    static OperatorMetrics.Admission outcome(AdmissionResponse r) {
        if (!Boolean.TRUE.equals(r.getAllowed())) {
            return OperatorMetrics.Admission.DENIED;
        }
        if (r.getPatch() != null) {
            return OperatorMetrics.Admission.INJECTED;
        }
        List<String> w = r.getWarnings() == null ? List.of() : r.getWarnings();
        if (w.stream().anyMatch(x -> x.startsWith(COULD_NOT_INJECT))) {
            return OperatorMetrics.Admission.ERROR;
        }
        return w.isEmpty() ? OperatorMetrics.Admission.UNCHANGED : OperatorMetrics.Admission.SKIPPED;
    }

    private static final String COULD_NOT_INJECT = "mithril: the cache could not be injected";

    /** A review the webhook cannot answer: a 400 with this message. */
    static final class BadReview extends Exception {
        BadReview(String m) {
            super(m);
        }
    }

    static AdmissionReview parse(InputStream body) throws BadReview, IOException {
        byte[] bytes = body.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
            throw new BadReview("body larger than " + MAX_BODY + " bytes");
        }
        AdmissionReview r;
        try {
            r = Serialization.unmarshal(new String(bytes, StandardCharsets.UTF_8), AdmissionReview.class);
        } catch (RuntimeException e) {
            throw new BadReview("not JSON of an AdmissionReview");
        }
        if (r == null || !"admission.k8s.io/v1".equals(r.getApiVersion()) || !"AdmissionReview".equals(r.getKind())) {
            throw new BadReview("expected apiVersion admission.k8s.io/v1, kind AdmissionReview");
        }
        if (r.getRequest() == null || r.getRequest().getUid() == null) {
            throw new BadReview("no request or no request.uid");
        }
        return r;
    }

    AdmissionResponse decide(AdmissionRequest req) {
        AdmissionResponseBuilder b =
                new AdmissionResponseBuilder().withUid(req.getUid()).withAllowed(true);
        try {
            Object obj = req.getObject();
            if (obj instanceof Pod pod
                    && "UPDATE".equals(req.getOperation())
                    && "ephemeralcontainers".equals(req.getSubResource())) {
                String refused = PodMutator.ephemeralContainerRefusal(pod);
                return refused == null
                        ? b.build()
                        : b.withAllowed(false)
                                .withStatus(new StatusBuilder()
                                        .withCode(403)
                                        .withReason("Forbidden")
                                        .withMessage(refused)
                                        .build())
                                .build();
            }
            if (!(obj instanceof Pod pod) || !"CREATE".equals(req.getOperation()) || req.getSubResource() != null) {
                return b.build();
            }
            String ns = req.getNamespace() != null
                    ? req.getNamespace()
                    : pod.getMetadata() != null ? pod.getMetadata().getNamespace() : null;
            PodMutator.Result r = mutator.mutate(
                    pod,
                    ns == null ? List.of() : caches.inNamespace(ns),
                    ns == null ? NamespacePolicy.NONE : namespaces.of(ns),
                    configMaps.forRequest());
            if (!r.warnings().isEmpty()) {
                b.withWarnings(r.warnings());
            }
            if (r.pod() != pod) {
                b.withPatchType("JSONPatch")
                        .withPatch(Base64.getEncoder()
                                .encodeToString(patch(r.pod()).getBytes(StandardCharsets.UTF_8)));
            }
            return b.build();
        } catch (RuntimeException e) {
            log.warn("mutation failed for {}: {}", req.getUid(), e.toString());
            return b.withWarnings(COULD_NOT_INJECT + " (" + e.getClass().getSimpleName() + "); pod admitted unchanged")
                    .build();
        }
    }

    /** A JSON patch that sets the mutated spec and annotations (the mutator changes nothing else). */
    static String patch(Pod mutated) {
        List<Map<String, Object>> ops = new ArrayList<>();
        ops.add(op("replace", "/spec", mutated.getSpec()));
        ops.add(op("add", "/metadata/annotations", mutated.getMetadata().getAnnotations()));
        return Serialization.asJson(ops);
    }

    private static Map<String, Object> op(String op, String path, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("op", op);
        m.put("path", path);
        m.put("value", value);
        return m;
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        https.stop(0);
        pool.shutdownNow();
    }
}
