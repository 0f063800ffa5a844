package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.LimitRangeBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.mithril.operator.webhook.PodResources.QosClass;
import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Kubernetes' QoS, effective resources, LimitRange and ResourceQuota rules on cases whose answer is known
 * (the examples of the Kubernetes documentation on QoS classes, init containers and sidecars).
 */
class PodResourcesTest {

    /** A container; {@code res} as "requests.cpu=700m", "limits.memory=200Mi". */
    static Container c(String name, String... res) {
        Map<String, Quantity> req = new LinkedHashMap<>();
        Map<String, Quantity> lim = new LinkedHashMap<>();
        for (String r : res) {
            String[] kv = r.split("=");
            (kv[0].startsWith("requests.") ? req : lim)
                    .put(kv[0].substring(kv[0].indexOf('.') + 1), new Quantity(kv[1]));
        }
        ContainerBuilder b = new ContainerBuilder().withName(name).withImage("x");
        if (res.length > 0) {
            b.withNewResources().withRequests(req).withLimits(lim).endResources();
        }
        return b.build();
    }

    static PodSpec pod(List<Container> init, Container... app) {
        return new PodSpecBuilder().withInitContainers(init).withContainers(app).build();
    }

    static BigDecimal cores(String q) {
        return Quantity.getAmountInBytes(new Quantity(q));
    }

    @Test
    void qos_knownCases_matchKubernetes() {
        assertThat(PodResources.qos(pod(
                        List.of(),
                        c(
                                "a",
                                "requests.cpu=700m",
                                "limits.cpu=700m",
                                "requests.memory=200Mi",
                                "limits.memory=200Mi"))))
                .isEqualTo(QosClass.Guaranteed);
        assertThat(PodResources.qos(pod(List.of(), c("a", "limits.cpu=700m", "limits.memory=200Mi"))))
                .as("requests default to limits")
                .isEqualTo(QosClass.Guaranteed);
        assertThat(PodResources.qos(pod(List.of(), c("a", "requests.memory=100Mi", "limits.memory=200Mi"))))
                .isEqualTo(QosClass.Burstable);
        assertThat(PodResources.qos(pod(List.of(), c("a")))).isEqualTo(QosClass.BestEffort);
        assertThat(PodResources.qos(pod(List.of(), c("a", "limits.cpu=1", "limits.memory=1Gi"), c("b"))))
                .as("one container without resources")
                .isEqualTo(QosClass.Burstable);
        assertThat(PodResources.qos(pod(List.of(c("init")), c("a", "limits.cpu=1", "limits.memory=1Gi"))))
                .as("init containers count")
                .isEqualTo(QosClass.Burstable);
        assertThat(PodResources.qos(pod(List.of(), c("gpu", "limits.nvidia.com/gpu=1"))))
                .as("only cpu and memory count: a GPU-only pod is BestEffort")
                .isEqualTo(QosClass.BestEffort);
        assertThat(PodResources.qos(pod(List.of(), c("a", "requests.cpu=0", "limits.memory=0"))))
                .as("zero is unset")
                .isEqualTo(QosClass.BestEffort);
        assertThat(PodResources.qos(pod(List.of(), c("a", "requests.cpu=1", "limits.cpu=2", "limits.memory=1Gi"))))
                .isEqualTo(QosClass.Burstable);
    }

    @Test
    void effectiveRequest_isTheLargerOfTheAppSumAndEachInitContainer_withSidecarsBeforeIt() {
        PodSpec p = pod(List.of(c("init", "requests.cpu=2")), c("a", "requests.cpu=1"), c("b", "requests.cpu=500m"));
        assertThat(PodResources.effectiveRequest(p, "cpu")).isEqualByComparingTo(cores("2"));
        PodSpec small =
                pod(List.of(c("init", "requests.cpu=100m")), c("a", "requests.cpu=1"), c("b", "requests.cpu=500m"));
        assertThat(PodResources.effectiveRequest(small, "cpu")).isEqualByComparingTo(cores("1.5"));
        Container sidecar = c("proxy", "requests.cpu=500m");
        sidecar.setRestartPolicy("Always");
        PodSpec withSidecar = pod(List.of(sidecar, c("init", "requests.cpu=1200m")), c("a", "requests.cpu=1"));
        assertThat(PodResources.effectiveRequest(withSidecar, "cpu"))
                .as("1.2 + the sidecar's 0.5 started before it")
                .isEqualByComparingTo(cores("1.7"));
        assertThat(PodResources.effectiveLimit(p, "cpu"))
                .as("a container without a limit: unbounded")
                .isNull();
    }

    static ResourceQuota quota(String hardKey, String hard, String used) {
        return new ResourceQuotaBuilder()
                .withNewMetadata()
                .withName("compute")
                .endMetadata()
                .withNewSpec()
                .addToHard(hardKey, new Quantity(hard))
                .endSpec()
                .withNewStatus()
                .addToUsed(hardKey, new Quantity(used))
                .endStatus()
                .build();
    }

    @Test
    void quota_onLimits_needsEveryContainerToSetThem_andRoomLeft() {
        PodSpec p = pod(List.of(), c("a", "limits.cpu=1", "limits.memory=1Gi"));
        assertThat(PodResources.quotaProblems(p, List.of(quota("limits.cpu", "4", "3"))))
                .isEmpty();
        assertThat(PodResources.quotaProblems(p, List.of(quota("limits.cpu", "4", "3500m"))))
                .singleElement()
                .asString()
                .contains("limits.cpu would exceed");
        PodSpec unset = pod(List.of(c("wait", "requests.cpu=10m")), c("a", "limits.cpu=1", "limits.memory=1Gi"));
        assertThat(PodResources.quotaProblems(unset, List.of(quota("limits.cpu", "4", "0"))))
                .singleElement()
                .asString()
                .contains("not set for [wait]");
        assertThat(PodResources.quotaProblems(unset, List.of(quota("requests.memory", "4Gi", "0"))))
                .as("requests default to limits")
                .singleElement()
                .asString()
                .contains("not set for [wait]");
        ResourceQuota bestEffortOnly = quota("limits.cpu", "1", "0");
        bestEffortOnly.getSpec().setScopes(List.of("BestEffort"));
        assertThat(PodResources.quotaProblems(unset, List.of(bestEffortOnly)))
                .as("out of the quota's scope")
                .isEmpty();
    }

    static LimitRange limitRange(String type, String field, String resource, String value) {
        LimitRange lr = new LimitRangeBuilder()
                .withNewMetadata()
                .withName("lr")
                .endMetadata()
                .withNewSpec()
                .addNewLimit()
                .withType(type)
                .endLimit()
                .endSpec()
                .build();
        var item = lr.getSpec().getLimits().get(0);
        Map<String, Quantity> m = Map.of(resource, new Quantity(value));
        switch (field) {
            case "min" -> item.setMin(m);
            case "max" -> item.setMax(m);
            default -> item.setMaxLimitRequestRatio(m);
        }
        return lr;
    }

    @Test
    void limitRange_minMaxAndRatio_onEveryContainer_initOnesIncluded() {
        PodSpec p = pod(
                List.of(c("wait", "requests.cpu=10m", "limits.cpu=100m")), c("a", "requests.cpu=1", "limits.cpu=2"));
        assertThat(PodResources.limitRangeProblems(p, List.of(limitRange("Container", "min", "cpu", "10m"))))
                .isEmpty();
        assertThat(PodResources.limitRangeProblems(p, List.of(limitRange("Container", "min", "cpu", "50m"))))
                .singleElement()
                .asString()
                .contains("container wait")
                .contains("minimum");
        assertThat(PodResources.limitRangeProblems(p, List.of(limitRange("Container", "max", "memory", "1Gi"))))
                .as("max needs a limit")
                .hasSize(2);
        assertThat(PodResources.limitRangeProblems(
                        p, List.of(limitRange("Container", "maxLimitRequestRatio", "cpu", "4"))))
                .singleElement()
                .asString()
                .contains("container wait")
                .contains("ratio");
        assertThat(PodResources.limitRangeProblems(p, List.of(limitRange("Pod", "max", "cpu", "2"))))
                .isEmpty();
        assertThat(PodResources.limitRangeProblems(p, List.of(limitRange("Pod", "max", "cpu", "1500m"))))
                .singleElement()
                .asString()
                .contains("the pod");
    }
}
