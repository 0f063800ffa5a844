package io.mithril.operator.reconciler;

import io.fabric8.kubernetes.api.model.Condition;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheStatus;
import io.mithril.operator.agents.AgentDirectory;
import io.mithril.operator.metrics.OperatorMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Keeps a CompileCache's status current from what the node agents report. Thin on purpose: the
 * agents' reports come from {@link AgentDirectory} (cached, shared by all CompileCaches), the status
 * from {@link StatusAggregator} (pure), the events from {@link Events}. Nothing is written when
 * nothing changed. Reconciled again every {@code resync}, since agent figures change without any
 * change to the resource.
 *
 * <p>No finalizer: deleting a CompileCache never waits on the operator. What happens to its entries
 * on the nodes is the agents' part ({@code deletionPolicy}: Retain keeps them for LRU to age out,
 * Delete makes every agent that sees the deletion remove them); see docs/operator.md.
 */
@ControllerConfiguration(name = "compilecache")
public final class CompileCacheReconciler implements Reconciler<CompileCache> {

    private static final Logger log = LoggerFactory.getLogger(CompileCacheReconciler.class);

    private final AgentDirectory agents;
    private final Events events;
    private final Clock clock;
    private final Duration resync;
    private final OperatorMetrics metrics;

    public CompileCacheReconciler(AgentDirectory agents, Events events, Clock clock, Duration resync) {
        this(agents, events, clock, resync, new OperatorMetrics());
    }

    public CompileCacheReconciler(
            AgentDirectory agents, Events events, Clock clock, Duration resync, OperatorMetrics metrics) {
        this.agents = agents;
        this.events = events;
        this.clock = clock;
        this.resync = resync;
        this.metrics = metrics;
    }

    /** One reconcile, counted by result in {@link OperatorMetrics} (the status patch JOSDK sends afterwards is not). */
    @Override
    public UpdateControl<CompileCache> reconcile(CompileCache cc, Context<CompileCache> context) {
        try {
            UpdateControl<CompileCache> out = reconcileOnce(cc);
            metrics.reconciled(true);
            return out;
        } catch (RuntimeException e) {
            metrics.reconciled(false);
            throw e;
        }
    }

    private UpdateControl<CompileCache> reconcileOnce(CompileCache cc) {
        try (MDC.MDCCloseable ignored = MDC.putCloseable(
                "compilecache",
                cc.getMetadata().getNamespace() + "/" + cc.getMetadata().getName())) {
            CompileCacheStatus prev = cc.getStatus();
            List<String> problems = SpecCheck.problems(cc.getSpec());
            CompileCacheStatus next;
            if (problems.isEmpty()) {
                AgentDirectory.Snapshot snap = agents.snapshot();
                next = StatusAggregator.aggregate(cc, snap.reports(), snap.asked(), clock.instant());
            } else {
                next = StatusAggregator.invalid(cc, String.join("; ", problems), clock.instant());
            }
            announce(cc, prev, next);
            if (StatusAggregator.same(prev, next)) {
                return UpdateControl.<CompileCache>noUpdate().rescheduleAfter(resync);
            }
            log.debug("status changed");
            cc.setStatus(next);
            return UpdateControl.patchStatus(cc).rescheduleAfter(resync);
        }
    }

    /** An event for each condition that turned False (something a user can act on), and when Ready comes back. */
    private void announce(CompileCache cc, CompileCacheStatus prev, CompileCacheStatus next) {
        for (Condition c : next.getConditions()) {
            Condition before = find(prev, c.getType());
            boolean changed = before == null
                    || !before.getStatus().equals(c.getStatus())
                    || !before.getReason().equals(c.getReason());
            if (!changed) {
                continue;
            }
            if ("False".equals(c.getStatus())) {
                events.warning(cc, c.getReason(), c.getMessage());
            } else if ("Ready".equals(c.getType()) && before != null) {
                events.normal(cc, "Ready", c.getMessage());
            }
        }
    }

    private static Condition find(CompileCacheStatus s, String type) {
        if (s == null || s.getConditions() == null) {
            return null;
        }
        return s.getConditions().stream()
                .filter(c -> type.equals(c.getType()))
                .findFirst()
                .orElse(null);
    }
}
