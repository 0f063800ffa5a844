package io.mithril.operator.metrics;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The operator's Prometheus metrics (text format 0.0.4), served on {@code --metrics-listen} at
 * {@code /metrics}: admissions by outcome and their latency, reconciles by result, and the expiry of the
 * webhook's serving certificate and CA. Lock-free counters; {@link #render} reads them as they are.
 */
public final class OperatorMetrics {

    /** What the webhook did with one review. */
    public enum Admission {
        /** the pod was patched */
        INJECTED,
        /** admitted unchanged without a word (not annotated, already injected, not a pod creation) */
        UNCHANGED,
        /** admitted unchanged, with a warning saying why (no CompileCache, invalid, refused by the namespace...) */
        SKIPPED,
        /** refused (an ephemeral container mounting the node's views) */
        DENIED,
        /** an internal error: admitted unchanged (fail-open) */
        ERROR,
        /** not an AdmissionReview the webhook can read: HTTP 400 */
        MALFORMED
    }

    /** Upper bounds of the latency buckets, in seconds; the API server gives the webhook 3 s by default. */
    static final double[] BOUNDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

    private final Map<Admission, LongAdder> admissions = new EnumMap<>(Admission.class);
    private final AtomicLongArray latencyBuckets = new AtomicLongArray(BOUNDS.length + 1);
    private final LongAdder latencyNanos = new LongAdder();
    private final LongAdder reconcileOk = new LongAdder();
    private final LongAdder reconcileFailed = new LongAdder();
    private final AtomicLong certificateNotAfter = new AtomicLong(-1);
    private final AtomicLong caNotAfter = new AtomicLong(-1);

    public OperatorMetrics() {
        for (Admission a : Admission.values()) {
            admissions.put(a, new LongAdder());
        }
    }

    public void admission(Admission outcome, long nanos) {
        admissions.get(outcome).increment();
        double seconds = nanos / 1e9;
        int i = 0;
        while (i < BOUNDS.length && seconds > BOUNDS[i]) {
            i++;
        }
        latencyBuckets.incrementAndGet(i);
        latencyNanos.add(nanos);
    }

    public void reconciled(boolean ok) {
        (ok ? reconcileOk : reconcileFailed).increment();
    }

    /** The serving certificate now in use and the CA that signed it (the newest, when a bundle holds two). */
    public void certificates(X509Certificate serving, X509Certificate ca) {
        certificateNotAfter.set(serving.getNotAfter().getTime() / 1000);
        if (ca != null) {
            caNotAfter.set(ca.getNotAfter().getTime() / 1000);
        }
    }

    public String render() {
        StringBuilder b = new StringBuilder(2048);
        header(b, "mithril_operator_admissions_total", "counter", "Admission reviews answered, by outcome.");
        admissions.forEach((a, n) -> b.append("mithril_operator_admissions_total{outcome=\"")
                .append(a.name().toLowerCase(Locale.ROOT))
                .append("\"} ")
                .append(n.sum())
                .append('\n'));
        header(
                b,
                "mithril_operator_admission_duration_seconds",
                "histogram",
                "Time from a review's arrival to its answer.");
        long cumulative = 0;
        for (int i = 0; i <= BOUNDS.length; i++) {
            cumulative += latencyBuckets.get(i);
            String le = i < BOUNDS.length
                    ? BigDecimal.valueOf(BOUNDS[i]).stripTrailingZeros().toPlainString()
                    : "+Inf";
            b.append("mithril_operator_admission_duration_seconds_bucket{le=\"")
                    .append(le)
                    .append("\"} ")
                    .append(cumulative)
                    .append('\n');
        }
        b.append("mithril_operator_admission_duration_seconds_sum ")
                .append(latencyNanos.sum() / 1e9)
                .append('\n');
        b.append("mithril_operator_admission_duration_seconds_count ")
                .append(cumulative)
                .append('\n');
        header(b, "mithril_operator_reconciles_total", "counter", "CompileCache reconciles, by result.");
        b.append("mithril_operator_reconciles_total{result=\"success\"} ")
                .append(reconcileOk.sum())
                .append('\n');
        b.append("mithril_operator_reconciles_total{result=\"error\"} ")
                .append(reconcileFailed.sum())
                .append('\n');
        if (certificateNotAfter.get() >= 0) {
            header(
                    b,
                    "mithril_operator_certificate_expiry_timestamp_seconds",
                    "gauge",
                    "When the webhook's serving certificate expires (Unix time).");
            b.append("mithril_operator_certificate_expiry_timestamp_seconds ")
                    .append(certificateNotAfter.get())
                    .append('\n');
        }
        if (caNotAfter.get() >= 0) {
            header(
                    b,
                    "mithril_operator_ca_expiry_timestamp_seconds",
                    "gauge",
                    "When the CA of the serving certificate expires (Unix time).");
            b.append("mithril_operator_ca_expiry_timestamp_seconds ")
                    .append(caNotAfter.get())
                    .append('\n');
        }
        return b.toString();
    }

    private static void header(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    /** A plain-HTTP server for {@code GET /metrics}; the caller starts and stops it. */
    public HttpServer server(InetSocketAddress listen) throws IOException {
        HttpServer http = HttpServer.create(listen, 16);
        http.createContext("/metrics", ex -> {
            try (ex) {
                byte[] body = render().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        return http;
    }
}
