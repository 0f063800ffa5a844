package io.mithril.agent.kube;

import io.mithril.agent.remote.RemoteGc;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.RemoteSpec;
import io.mithril.api.v1alpha1.Sizes;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remote retention on a cluster (docs/remote.md, "Retention"): every agent with a remote tries a
 * pass at an interval; the one that holds the retention {@link RetentionLease} runs it. Each
 * CompileCache the agents know, with the remote enabled, is one budget for all its groups (every
 * device class and GPU product): {@code spec.remote.budget}, or no limit where it names none (its
 * manifests are still compacted). Groups of CompileCaches this cluster does not know (deleted
 * ones, or another cluster's on a shared prefix) and of caches that turned the remote off are
 * left alone; blobs no manifest names are swept after the grace as ever.
 */
final class RemoteRetention {
    private static final Logger log = LoggerFactory.getLogger(RemoteRetention.class);

    private final RemoteGc gc;
    private final RemoteGc.Lock lock;
    private final Supplier<Collection<CompileCache>> caches;
    private final Duration grace;
    private final Duration lease;
    private final AgentMetrics metrics;

    RemoteRetention(
            RemoteGc gc,
            RemoteGc.Lock lock,
            Supplier<Collection<CompileCache>> caches,
            Duration grace,
            Duration lease,
            AgentMetrics metrics) {
        this.gc = gc;
        this.lock = lock;
        this.caches = caches;
        this.grace = grace;
        this.lease = lease;
        this.metrics = metrics;
    }

    /** The budget of each CompileCache by {@code namespace/name}; those left alone are absent. */
    Map<String, RemoteGc.Budget> budgets() {
        Map<String, RemoteGc.Budget> out = new HashMap<>();
        for (CompileCache cc : caches.get()) {
            if (cc.getSpec() == null || !RemoteSpec.enabled(cc.getSpec())) {
                continue;
            }
            String key =
                    cc.getMetadata().getNamespace() + "/" + cc.getMetadata().getName();
            String text = cc.getSpec().getRemote() == null
                    ? null
                    : cc.getSpec().getRemote().getBudget();
            long bytes = Long.MAX_VALUE;
            if (text != null) {
                try {
                    bytes = Sizes.parse(text);
                } catch (IllegalArgumentException e) {
                    log.warn(
                            "CompileCache {}: spec.remote.budget {}; its remote entries are left alone",
                            key,
                            e.getMessage());
                    continue;
                }
            }
            out.put(key, new RemoteGc.Budget(key, bytes));
        }
        return out;
    }

    /** One pass if this agent can take the Lease; never throws (a failed pass is logged and counted). */
    RemoteGc.Report pass() {
        Map<String, RemoteGc.Budget> budgets = budgets();
        try {
            RemoteGc.Report r = gc.collect(g -> budgets.get(g.namespace() + "/" + g.cache()), grace, lock, lease);
            metrics.remoteRetention(r, Instant.now());
            return r;
        } catch (IOException | RuntimeException e) {
            log.warn("remote retention pass failed: {}", e.toString());
            metrics.remoteRetention(null);
            return null;
        }
    }
}
