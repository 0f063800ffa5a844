package io.mithril.operator.reconciler;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheStatus;
import io.mithril.api.v1alpha1.PodStarts;
import io.mithril.api.v1alpha1.RemoteStatus;
import io.mithril.api.v1alpha1.Sizes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The status of a CompileCache from what the node agents report: a pure function (no API calls),
 * so the reconciler stays thin and this is tested without a cluster.
 *
 * <p>Conditions have fixed types and CamelCase reasons; a condition keeps its
 * {@code lastTransitionTime} unless its status really changed, so an unchanged cache produces an
 * equal status and the reconciler writes nothing.
 * <ul>
 *   <li>{@code AgentsReporting}: at least one node agent answered ({@code AgentsAnswered} /
 *       {@code NoAgentAnswered}).</li>
 *   <li>{@code WithinBudget}: no node holds more of this cache than {@code spec.budget}
 *       ({@code WithinBudget} / {@code OverBudget}: eviction is catching up).</li>
 *   <li>{@code Ready}: agents report; its reason says why not.</li>
 * </ul>
 */
final class StatusAggregator {

    private StatusAggregator() {}

    public static CompileCacheStatus aggregate(CompileCache cc, List<NodeStats> reports, int agentsAsked, Instant now) {
        String ns = cc.getMetadata().getNamespace();
        String name = cc.getMetadata().getName();
        CompileCacheStatus prev = cc.getStatus();
        long budget = budgetBytes(cc);
        long used = 0;
        long entries = 0;
        long hits = 0;
        long misses = 0;
        long maxOnNode = 0;
        long[] remote = new long[4];
        Map<String, Long> runs = new TreeMap<>();
        int nodes = 0;
        String lastUse = null;
        TreeSet<String> devices = new TreeSet<>();
        for (NodeStats n : reports) {
            long onNode = 0;
            for (NodeStats.Group g : n.groups()) {
                if (!ns.equals(g.namespace()) || !name.equals(g.cache())) {
                    continue;
                }
                onNode += g.bytes();
                entries += g.entries();
                hits += g.hits();
                misses += g.misses();
                g.runs().forEach((k, v) -> runs.merge(k, v, Long::sum));
                remote[0] += g.remote().fetched();
                remote[1] += g.remote().fetchedBytes();
                remote[2] += g.remote().uploaded();
                remote[3] += g.remote().uploadedBytes();
                devices.add(g.device() + "/" + g.product());
                if (g.lastUse() != null && (lastUse == null || g.lastUse().compareTo(lastUse) > 0)) {
                    lastUse = g.lastUse();
                }
            }
            if (onNode > 0) {
                nodes++;
                used += onNode;
                maxOnNode = Math.max(maxOnNode, onNode);
            }
        }
        CompileCacheStatus s = new CompileCacheStatus();
        s.setObservedGeneration(cc.getMetadata().getGeneration());
        s.setNodes(nodes);
        s.setUsedBytes(used);
        s.setUsed(human(used));
        s.setEntries(entries);
        s.setHitRatio(hits + misses == 0 ? "-" : Math.round(100.0 * hits / (hits + misses)) + "%");
        s.setLastUsed(lastUse);
        s.setDeviceClasses(new ArrayList<>(devices));
        s.setPodStarts(runs.isEmpty() ? null : PodStarts.of(runs));
        s.setRemote(remoteStatus(cc, remote, newestHeld(ns, name, reports)));
        boolean reporting = !reports.isEmpty();
        List<Condition> conds = new ArrayList<>();
        conds.add(condition(
                prev,
                "AgentsReporting",
                reporting,
                reporting ? "AgentsAnswered" : "NoAgentAnswered",
                reporting
                        ? reports.size() + " of " + agentsAsked + " node agents answered"
                        : "none of " + agentsAsked
                                + " node agents answered; is the agent DaemonSet running on GPU nodes?",
                now,
                cc.getMetadata().getGeneration()));
        boolean within = maxOnNode <= budget;
        conds.add(condition(
                prev,
                "WithinBudget",
                within,
                within ? "WithinBudget" : "OverBudget",
                within
                        ? "every node holds at most " + human(budget)
                        : "a node holds " + human(maxOnNode) + " of a " + human(budget)
                                + " budget; eviction is catching up",
                now,
                cc.getMetadata().getGeneration()));
        conds.add(condition(
                prev,
                "Ready",
                reporting,
                reporting ? "Ready" : "NoAgentAnswered",
                reporting ? "serving " + nodes + " node(s)" : "no node agent answered",
                now,
                cc.getMetadata().getGeneration()));
        s.setConditions(conds);
        return s;
    }

    /** The status of a CompileCache whose spec cannot be acted on: Ready False, reason InvalidSpec. */
    public static CompileCacheStatus invalid(CompileCache cc, String why, Instant now) {
        CompileCacheStatus prev = cc.getStatus();
        CompileCacheStatus s = new CompileCacheStatus();
        s.setObservedGeneration(cc.getMetadata().getGeneration());
        s.setConditions(List.of(condition(
                prev, "Ready", false, "InvalidSpec", why, now, cc.getMetadata().getGeneration())));
        return s;
    }

    static long budgetBytes(CompileCache cc) {
        return Sizes.budgetOf(cc.getSpec());
    }

    private static Condition condition(
            CompileCacheStatus prev,
            String type,
            boolean ok,
            String reason,
            String message,
            Instant now,
            Long generation) {
        String status = ok ? "True" : "False";
        String since = now.toString();
        if (prev != null && prev.getConditions() != null) {
            for (Condition c : prev.getConditions()) {
                if (type.equals(c.getType()) && status.equals(c.getStatus()) && c.getLastTransitionTime() != null) {
                    since = c.getLastTransitionTime(); // unchanged status: keep when it last changed
                }
            }
        }
        return new ConditionBuilder()
                .withType(type)
                .withStatus(status)
                .withReason(reason)
                .withMessage(message)
                .withLastTransitionTime(since)
                .withObservedGeneration(generation)
                .build();
    }

    /** Bytes as a Kubernetes-style binary quantity with one decimal, e.g. {@code 14.2Gi}. */
    static String human(long bytes) {
        String[] units = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
        double v = bytes;
        int i = 0;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? Long.toString(bytes) : String.format(Locale.ROOT, "%.1f%s", v, units[i]);
    }

    /** status.remote: the agents' remote figures summed, and the remote budget asked for; null when there is nothing to say. */
    static RemoteStatus remoteStatus(CompileCache cc, long[] sums, Stored stored) {
        String budget = cc.getSpec() != null && cc.getSpec().getRemote() != null
                ? cc.getSpec().getRemote().getBudget()
                : null;
        if (budget == null && stored == null && sums[0] == 0 && sums[1] == 0 && sums[2] == 0 && sums[3] == 0) {
            return null;
        }
        RemoteStatus r = new RemoteStatus();
        r.setHits(sums[0]);
        r.setFetchedBytes(sums[1]);
        r.setUploadedEntries(sums[2]);
        r.setUploadedBytes(sums[3]);
        r.setBudget(budget);
        if (stored != null) {
            r.setStoredEntries(stored.held().entries());
            r.setStoredBytes(stored.held().bytes());
            r.setStoredAt(stored.at());
        }
        return r;
    }

    /** A cache's remote holdings and when a retention pass measured them. */
    record Stored(String at, NodeStats.Held held) {}

    /**
     * The newest retention pass's figures for {@code namespace/name} among the agents' reports (one
     * agent at a time runs retention; the holder changes, so the latest pass wins); null: none.
     */
    static Stored newestHeld(String namespace, String name, List<NodeStats> reports) {
        Stored best = null;
        for (NodeStats n : reports) {
            if (n.remoteHeld() == null) {
                continue;
            }
            for (NodeStats.Held h : n.remoteHeld().caches()) {
                if (namespace.equals(h.namespace())
                        && name.equals(h.cache())
                        && (best == null || n.remoteHeld().at().compareTo(best.at()) > 0)) {
                    best = new Stored(n.remoteHeld().at(), h);
                }
            }
        }
        return best;
    }

    /** True when two statuses are equal in what they say (the reconciler skips the write then). */
    public static boolean same(CompileCacheStatus a, CompileCacheStatus b) {
        if (a == null || b == null) {
            return a == b;
        }
        return Objects.equals(Serialization.asJson(a), Serialization.asJson(b));
    }
}
