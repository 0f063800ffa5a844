package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.LimitRangeItem;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * How the injected wait step is sized and whose user it runs as (operator flags {@code --wait-*},
 * chart values {@code webhook.waitStep.*}).
 *
 * <p>{@link #resourcesFor} sizes it so that the pod keeps its QoS class and its effective requests and
 * limits: a BestEffort pod gets a wait step without resources; a Guaranteed one gets requests equal to
 * limits; a Burstable one the configured requests and limits. Each value is capped at what the pod's app
 * containers already ask for (the pod's effective value is the larger of the two, so a ResourceQuota
 * counts the same pod as before) and held within the namespace's LimitRange bounds for containers.
 *
 * @param requests   the wait step's requests (cpu, memory) in a Burstable pod
 * @param limits     its limits in a Burstable pod; in a Guaranteed pod both requests and limits
 * @param runAsUser  the uid when neither the pod nor the injected container names one; null: the
 *                   image's own user (the chart's default image, the operator's, runs as 65532), which
 *                   also lets OpenShift's restricted SCC assign its uid
 * @param pullSecrets secrets added to an injected pod's {@code imagePullSecrets} for the wait image
 *                   (they must exist in the workload's namespace)
 */
public record WaitStep(
        Map<String, Quantity> requests, Map<String, Quantity> limits, Long runAsUser, List<String> pullSecrets) {

    public WaitStep {
        requests = Map.copyOf(requests);
        limits = Map.copyOf(limits);
        pullSecrets = List.copyOf(pullSecrets);
    }

    public static WaitStep defaults() {
        return new WaitStep(
                Map.of("cpu", new Quantity("10m"), "memory", new Quantity("16Mi")),
                Map.of("cpu", new Quantity("100m"), "memory", new Quantity("32Mi")),
                65534L,
                List.of());
    }

    public WaitStep withRunAsUser(Long uid) {
        return new WaitStep(requests, limits, uid, pullSecrets);
    }

    /** The wait step's resources in this pod (the pod as admitted, before the wait step is added). */
    ResourceRequirements resourcesFor(PodSpec pod, List<LimitRange> ranges) {
        PodResources.QosClass qos = PodResources.qos(pod);
        ResourceRequirements out = new ResourceRequirements();
        if (qos == PodResources.QosClass.BestEffort) {
            return out;
        }
        Map<String, Quantity> req = new LinkedHashMap<>();
        Map<String, Quantity> lim = new LinkedHashMap<>();
        for (String r : PodResources.COMPUTE) {
            BigDecimal capRequest = PodResources.appSum(pod, c -> PodResources.request(c, r));
            BigDecimal capLimit =
                    allAppContainersLimit(pod, r) ? PodResources.appSum(pod, c -> PodResources.limit(c, r)) : null;
            BigDecimal min = bound(ranges, r, LimitRangeItem::getMin, true);
            BigDecimal max = bound(ranges, r, LimitRangeItem::getMax, false);
            BigDecimal ratio = bound(ranges, r, LimitRangeItem::getMaxLimitRequestRatio, false);
            BigDecimal rq = PodResources.amount(requests, r);
            BigDecimal lm = PodResources.amount(limits, r);
            if (qos == PodResources.QosClass.Guaranteed) {
                BigDecimal v = lm != null ? lm : rq != null ? rq : fallback(r);
                v = atMost(atLeast(atMost(v, capLimit), min), max);
                req.put(r, quantity(r, v));
                lim.put(r, quantity(r, v));
                continue;
            }
            rq = capRequest.signum() > 0 ? atMost(rq, capRequest) : rq;
            lm = atMost(lm, capLimit);
            if (min != null) {
                rq = rq == null ? min : atLeast(rq, min);
                lm = lm == null ? null : atLeast(lm, min);
            }
            if (max != null) {
                lm = lm == null ? max : atMost(lm, max);
                rq = atMost(rq, max);
            }
            if (lm == null && capLimit != null) {
                lm = rq; // every other container has a limit (a quota may track it): so does the wait step
            }
            if (ratio != null && lm != null) {
                rq = rq == null ? lm : rq;
                lm = atMost(lm, rq.multiply(ratio));
            }
            rq = atMost(rq, lm);
            if (rq != null) {
                req.put(r, quantity(r, rq));
            }
            if (lm != null) {
                lim.put(r, quantity(r, lm));
            }
        }
        out.setRequests(req);
        out.setLimits(lim);
        return out;
    }

    private static boolean allAppContainersLimit(PodSpec pod, String r) {
        for (Container c : pod.getContainers()) {
            if (PodResources.limit(c, r) == null) {
                return false;
            }
        }
        return true;
    }

    private static BigDecimal fallback(String r) {
        return "cpu".equals(r) ? new BigDecimal("0.01") : BigDecimal.valueOf(16L << 20);
    }

    /** The tightest bound of the namespace's Container LimitRanges: the largest min, else the smallest max or ratio. */
    private static BigDecimal bound(
            List<LimitRange> ranges, String r, Function<LimitRangeItem, Map<String, Quantity>> field, boolean largest) {
        BigDecimal out = null;
        for (LimitRange lr : ranges) {
            if (lr.getSpec() == null || lr.getSpec().getLimits() == null) {
                continue;
            }
            for (LimitRangeItem item : lr.getSpec().getLimits()) {
                BigDecimal v = "Container".equals(item.getType()) ? PodResources.amount(field.apply(item), r) : null;
                if (v != null && (out == null || (largest ? v.compareTo(out) > 0 : v.compareTo(out) < 0))) {
                    out = v;
                }
            }
        }
        return out;
    }

    private static BigDecimal atMost(BigDecimal v, BigDecimal cap) {
        return v == null || cap == null || v.compareTo(cap) <= 0 ? v : cap;
    }

    private static BigDecimal atLeast(BigDecimal v, BigDecimal floor) {
        return v == null || floor == null || v.compareTo(floor) >= 0 ? v : floor;
    }

    /** CPU in whole millicores (rounded down, never to zero), memory in whole bytes, MiB when exact. */
    static Quantity quantity(String r, BigDecimal v) {
        if ("cpu".equals(r)) {
            long milli = Math.max(
                    1, v.movePointRight(3).setScale(0, RoundingMode.DOWN).longValueExact());
            return new Quantity(milli + "m");
        }
        long bytes = Math.max(1, v.setScale(0, RoundingMode.DOWN).longValueExact());
        return bytes % (1L << 20) == 0 ? new Quantity((bytes >> 20) + "Mi") : new Quantity(Long.toString(bytes));
    }
}
