package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.LimitRangeItem;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Kubernetes' arithmetic on a pod's CPU and memory, as the API server and kubelet do it, for the
 * injected wait step: its QoS class, its effective requests and limits, and whether a namespace's
 * LimitRanges and ResourceQuotas admit it. Pure functions over the pod spec; quantities as
 * {@link BigDecimal} (cores, bytes).
 *
 * <ul>
 *   <li><b>QoS</b> (kubelet's {@code ComputePodQOS}): init and app containers together, CPU and memory
 *       only, zero values ignored. No request or limit anywhere: BestEffort. Every container with CPU and
 *       memory limits, and the summed requests equal to the summed limits: Guaranteed. Else Burstable.
 *       A request left out where a limit is set counts as the limit (the API server's defaulting).</li>
 *   <li><b>Effective</b> request (and limit) of the pod, per resource: the larger of the sum over app
 *       containers (and sidecars, init containers with {@code restartPolicy: Always}) and, for each
 *       regular init container, its own value plus the sidecars started before it. This is what the
 *       scheduler, ResourceQuota and LimitRange's Pod type count.</li>
 *   <li><b>LimitRange</b> (type Container on every container, init ones included; type Pod on the
 *       effective values): {@code min} needs a request and request and limit at least min; {@code max}
 *       needs a limit and both at most max; {@code maxLimitRequestRatio} needs both, limit/request at
 *       most the ratio. Defaults are not applied here: the LimitRanger fills them in before mutating
 *       webhooks run, so the user's containers already carry them and the wait step sets its own.</li>
 *   <li><b>ResourceQuota</b> on {@code requests.cpu}/{@code cpu}, {@code requests.memory}/{@code memory},
 *       {@code limits.cpu}, {@code limits.memory}: every container must set what the quota tracks, and
 *       used plus the pod's effective value must stay within hard. Quotas with the BestEffort or
 *       NotBestEffort scope count only the pods of that class; other scopes are taken as matching
 *       (checking more, never less).</li>
 * </ul>
 */
final class PodResources {

    enum QosClass {
        Guaranteed,
        Burstable,
        BestEffort
    }

    static final List<String> COMPUTE = List.of("cpu", "memory");

    private PodResources() {}

    /** A positive value, or null when absent or zero. */
    static BigDecimal amount(Map<String, Quantity> m, String resource) {
        if (m == null || m.get(resource) == null) {
            return null;
        }
        BigDecimal v = Quantity.getAmountInBytes(m.get(resource));
        return v.signum() > 0 ? v : null;
    }

    static BigDecimal request(Container c, String resource) {
        ResourceRequirements r = c.getResources();
        if (r == null) {
            return null;
        }
        BigDecimal req = amount(r.getRequests(), resource);
        return req != null ? req : amount(r.getLimits(), resource);
    }

    static BigDecimal limit(Container c, String resource) {
        return c.getResources() == null ? null : amount(c.getResources().getLimits(), resource);
    }

    static List<Container> all(PodSpec spec) {
        List<Container> out = new ArrayList<>();
        if (spec.getInitContainers() != null) {
            out.addAll(spec.getInitContainers());
        }
        if (spec.getContainers() != null) {
            out.addAll(spec.getContainers());
        }
        return out;
    }

    static QosClass qos(PodSpec spec) {
        Map<String, BigDecimal> requests = new LinkedHashMap<>();
        Map<String, BigDecimal> limits = new LinkedHashMap<>();
        boolean guaranteed = true;
        for (Container c : all(spec)) {
            int limitsFound = 0;
            for (String r : COMPUTE) {
                BigDecimal req = request(c, r);
                if (req != null) {
                    requests.merge(r, req, BigDecimal::add);
                }
                BigDecimal lim = limit(c, r);
                if (lim != null) {
                    limits.merge(r, lim, BigDecimal::add);
                    limitsFound++;
                }
            }
            if (limitsFound < COMPUTE.size()) {
                guaranteed = false;
            }
        }
        if (requests.isEmpty() && limits.isEmpty()) {
            return QosClass.BestEffort;
        }
        if (guaranteed) {
            for (Map.Entry<String, BigDecimal> e : requests.entrySet()) {
                BigDecimal lim = limits.get(e.getKey());
                if (lim == null || lim.compareTo(e.getValue()) != 0) {
                    guaranteed = false;
                }
            }
        }
        return guaranteed && requests.size() == limits.size() ? QosClass.Guaranteed : QosClass.Burstable;
    }

    private static boolean sidecar(Container c) {
        return "Always".equals(c.getRestartPolicy());
    }

    /** The pod's effective request of {@code resource} (zero when nothing asks for it). */
    static BigDecimal effectiveRequest(PodSpec spec, String resource) {
        return effective(spec, c -> request(c, resource));
    }

    /** The pod's effective limit of {@code resource}; null when some container has none (unbounded). */
    static BigDecimal effectiveLimit(PodSpec spec, String resource) {
        for (Container c : all(spec)) {
            if (limit(c, resource) == null) {
                return null;
            }
        }
        return effective(spec, c -> limit(c, resource));
    }

    /** Sum over app containers and sidecars (init containers with {@code restartPolicy: Always}). */
    static BigDecimal appSum(PodSpec spec, Function<Container, BigDecimal> value) {
        BigDecimal sum = BigDecimal.ZERO;
        List<Container> running = new ArrayList<>(spec.getContainers() == null ? List.of() : spec.getContainers());
        if (spec.getInitContainers() != null) {
            spec.getInitContainers().stream().filter(PodResources::sidecar).forEach(running::add);
        }
        for (Container c : running) {
            BigDecimal v = value.apply(c);
            sum = v == null ? sum : sum.add(v);
        }
        return sum;
    }

    private static BigDecimal effective(PodSpec spec, Function<Container, BigDecimal> value) {
        BigDecimal max = appSum(spec, value);
        BigDecimal sidecars = BigDecimal.ZERO;
        for (Container c : spec.getInitContainers() == null ? List.<Container>of() : spec.getInitContainers()) {
            BigDecimal v = value.apply(c);
            if (sidecar(c)) {
                sidecars = v == null ? sidecars : sidecars.add(v);
            } else if (v != null && v.add(sidecars).compareTo(max) > 0) {
                max = v.add(sidecars);
            }
        }
        return max;
    }

    /** Why the namespace's LimitRanges would reject this pod; empty when they admit it. */
    static List<String> limitRangeProblems(PodSpec spec, List<LimitRange> ranges) {
        List<String> out = new ArrayList<>();
        for (LimitRange lr : ranges) {
            if (lr.getSpec() == null || lr.getSpec().getLimits() == null) {
                continue;
            }
            for (LimitRangeItem item : lr.getSpec().getLimits()) {
                if ("Container".equals(item.getType())) {
                    for (Container c : all(spec)) {
                        for (String r : COMPUTE) {
                            check(out, "container " + c.getName(), r, request(c, r), limit(c, r), item);
                        }
                    }
                } else if ("Pod".equals(item.getType())) {
                    for (String r : COMPUTE) {
                        BigDecimal req = effectiveRequest(spec, r);
                        check(out, "the pod", r, req.signum() > 0 ? req : null, effectiveLimit(spec, r), item);
                    }
                }
            }
        }
        return out;
    }

    private static void check(
            List<String> out, String who, String r, BigDecimal req, BigDecimal lim, LimitRangeItem item) {
        BigDecimal min = amount(item.getMin(), r);
        BigDecimal max = amount(item.getMax(), r);
        BigDecimal ratio = amount(item.getMaxLimitRequestRatio(), r);
        if (min != null && (req == null || req.compareTo(min) < 0 || (lim != null && lim.compareTo(min) < 0))) {
            out.add(who + ": " + r + " below the LimitRange minimum " + min.toPlainString());
        }
        if (max != null && (lim == null || lim.compareTo(max) > 0 || (req != null && req.compareTo(max) > 0))) {
            out.add(who + ": " + r + " limit missing or above the LimitRange maximum " + max.toPlainString());
        }
        if (ratio != null && (req == null || lim == null || lim.compareTo(req.multiply(ratio)) > 0)) {
            out.add(who + ": " + r + " limit/request above the LimitRange ratio " + ratio.toPlainString());
        }
    }

    /** Why these ResourceQuotas would reject this pod (usage as in their status); empty when they admit it. */
    static List<String> quotaProblems(PodSpec spec, List<ResourceQuota> quotas) {
        List<String> out = new ArrayList<>();
        QosClass qos = qos(spec);
        for (ResourceQuota q : quotas) {
            if (q.getSpec() == null || q.getSpec().getHard() == null || !inScope(q, qos)) {
                continue;
            }
            Map<String, Quantity> used = q.getStatus() == null || q.getStatus().getUsed() == null
                    ? Map.of()
                    : q.getStatus().getUsed();
            for (String r : COMPUTE) {
                for (String tracked : List.of(r, "requests." + r, "limits." + r)) {
                    BigDecimal hard = q.getSpec().getHard().get(tracked) == null
                            ? null
                            : Quantity.getAmountInBytes(q.getSpec().getHard().get(tracked));
                    if (hard == null) {
                        continue;
                    }
                    boolean limits = tracked.startsWith("limits.");
                    List<String> unset = all(spec).stream()
                            .filter(c -> (limits ? limit(c, r) : request(c, r)) == null)
                            .map(Container::getName)
                            .toList();
                    if (!unset.isEmpty()) {
                        out.add("ResourceQuota " + q.getMetadata().getName() + " tracks " + tracked + ": not set for "
                                + unset);
                        continue;
                    }
                    BigDecimal pod = limits ? effectiveLimit(spec, r) : effectiveRequest(spec, r);
                    BigDecimal now =
                            used.get(tracked) == null ? BigDecimal.ZERO : Quantity.getAmountInBytes(used.get(tracked));
                    if (now.add(pod).compareTo(hard) > 0) {
                        out.add("ResourceQuota " + q.getMetadata().getName() + ": " + tracked + " would exceed "
                                + hard.toPlainString());
                    }
                }
            }
        }
        return out;
    }

    private static boolean inScope(ResourceQuota q, QosClass qos) {
        List<String> scopes =
                q.getSpec().getScopes() == null ? List.of() : q.getSpec().getScopes();
        if (scopes.contains("BestEffort") && qos != QosClass.BestEffort) {
            return false;
        }
        return !(scopes.contains("NotBestEffort") && qos == QosClass.BestEffort);
    }
}
