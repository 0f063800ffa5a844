package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * {@link ConfigMapLookup} by a GET to the API server for each ConfigMap (RBAC {@code get} on
 * {@code configmaps}; no list, no watch: the webhook holds no copy of any namespace's ConfigMaps). All
 * the reads of one admission request share {@link #BUDGET} (the API server waits 3 s for the whole
 * answer by default): each GET is given what is left of it, without retries; once it is spent the
 * remaining ConfigMaps are {@link Unreadable}.
 */
public final class KubeConfigMapLookup implements ConfigMapLookup {

    static final Duration BUDGET = Duration.ofSeconds(2);
    /** Below this, a GET is not started. */
    static final long MIN_READ_MS = 50;

    private final KubernetesClient client;
    private final Duration budget;

    public KubeConfigMapLookup(KubernetesClient client) {
        this(client, BUDGET);
    }

    KubeConfigMapLookup(KubernetesClient client, Duration budget) {
        this.client = client;
        this.budget = budget;
    }

    @Override
    public Result get(String namespace, String name) {
        return forRequest().get(namespace, name);
    }

    @Override
    public ConfigMapLookup forRequest() {
        long deadline = System.nanoTime() + budget.toNanos();
        return (namespace, name) -> {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left < MIN_READ_MS) {
                return new Unreadable(
                        "not read: the " + budget.toMillis() + " ms for this pod's ConfigMaps were spent");
            }
            return read(namespace, name, (int) left);
        };
    }

    private Result read(String namespace, String name, int timeoutMs) {
        RequestConfig rc = new RequestConfigBuilder(client.getConfiguration().getRequestConfig())
                .withRequestTimeout(timeoutMs)
                .withRequestRetryBackoffLimit(0)
                .build();
        try {
            // a client that shares this one's connections, with this request's timeout (not closed: that would close
            // them)
            ConfigMap cm = client.newClient(rc)
                    .adapt(KubernetesClient.class)
                    .configMaps()
                    .inNamespace(namespace)
                    .withName(name)
                    .get();
            if (cm == null) {
                return new Missing();
            }
            return new Found(cm.getData() == null ? Map.of() : cm.getData());
        } catch (KubernetesClientException e) {
            if (e.getCode() == 403) {
                return new Unreadable("forbidden");
            }
            if (e.getCode() > 0) {
                return new Unreadable("HTTP " + e.getCode());
            }
            return new Unreadable(
                    timedOut(e)
                            ? "no answer within " + timeoutMs + " ms"
                            : "not read (" + root(e).getClass().getSimpleName() + ")");
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof TimeoutException
                    || t instanceof InterruptedIOException
                    || t.getClass().getSimpleName().contains("Timeout")) {
                return true;
            }
        }
        return false;
    }

    private static Throwable root(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }
}
