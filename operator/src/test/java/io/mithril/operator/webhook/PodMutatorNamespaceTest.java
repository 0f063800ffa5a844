package io.mithril.operator.webhook;

import static io.mithril.operator.webhook.PodMutatorTest.cache;
import static io.mithril.operator.webhook.PodMutatorTest.recordedPod;
import static io.mithril.operator.webhook.PodResourcesTest.c;
import static io.mithril.operator.webhook.PodResourcesTest.limitRange;
import static io.mithril.operator.webhook.PodResourcesTest.quota;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.webhook.PodResources.QosClass;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The webhook's decision within what the pod's namespace enforces: QoS classes, LimitRanges and
 * ResourceQuotas, Pod Security levels; and the wait step's user, the normalised canonical path, an invalid
 * CompileCache. Every case checks the injected pod with {@link PodResources}, the Kubernetes rules.
 */
class PodMutatorNamespaceTest {

    final PodMutator mutator = new PodMutator(Injection.defaults());

    static Pod withContainers(Container... app) throws Exception {
        Pod p = recordedPod();
        p.getSpec().setContainers(new ArrayList<>(List.of(app)));
        return p;
    }

    static Container waitStep(Pod out) {
        return out.getSpec().getInitContainers().stream()
                .filter(x -> x.getName().equals("mithril-wait"))
                .findFirst()
                .orElseThrow();
    }

    PodMutator.Result mutate(Pod in, NamespacePolicy ns) {
        return mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())), ns);
    }

    static NamespacePolicy limits(List<LimitRange> lr, List<ResourceQuota> rq) {
        return new NamespacePolicy(null, lr, rq);
    }

    @Test
    void mutate_guaranteedPod_staysGuaranteed_waitStepRequestsEqualItsLimits() throws Exception {
        Pod in = withContainers(c(
                "vllm",
                "limits.cpu=8",
                "limits.memory=64Gi",
                "limits.nvidia.com/gpu=1",
                "requests.cpu=8",
                "requests.memory=64Gi"));
        assertThat(PodResources.qos(in.getSpec())).isEqualTo(QosClass.Guaranteed);
        Pod out = mutate(in, NamespacePolicy.NONE).pod();
        assertThat(out).isNotSameAs(in);
        assertThat(PodResources.qos(out.getSpec())).isEqualTo(QosClass.Guaranteed);
        var res = waitStep(out).getResources();
        assertThat(res.getRequests()).isEqualTo(res.getLimits()).containsOnlyKeys("cpu", "memory");
        assertThat(PodResources.effectiveRequest(out.getSpec(), "cpu")).isEqualByComparingTo("8");
    }

    @Test
    void mutate_bestEffortPod_staysBestEffort_waitStepHasNoResources() throws Exception {
        Pod in = withContainers(c("train", "limits.nvidia.com/gpu=1"));
        Pod out = mutate(in, NamespacePolicy.NONE).pod();
        assertThat(PodResources.qos(out.getSpec())).isEqualTo(QosClass.BestEffort);
        var res = waitStep(out).getResources();
        assertThat(res.getRequests()).isNullOrEmpty();
        assertThat(res.getLimits()).isNullOrEmpty();
    }

    @Test
    void mutate_burstablePod_getsTheConfiguredSmallValues_andStaysBurstable() throws Exception {
        Pod out = mutate(recordedPod(), NamespacePolicy.NONE).pod(); // requests cpu 8 + 50m, memory limit 64Gi
        assertThat(PodResources.qos(out.getSpec())).isEqualTo(QosClass.Burstable);
        var res = waitStep(out).getResources();
        assertThat(res.getRequests())
                .containsEntry("cpu", new Quantity("10m"))
                .containsEntry("memory", new Quantity("16Mi"));
        assertThat(res.getLimits())
                .containsEntry("cpu", new Quantity("100m"))
                .containsEntry("memory", new Quantity("32Mi"));
    }

    @Test
    void mutate_tinyGuaranteedPod_waitStepCappedAtTheAppsValues_effectiveResourcesUnchanged() throws Exception {
        Pod in = withContainers(c("sidecar-sized", "limits.cpu=5m", "limits.memory=20Mi"));
        Pod out = mutate(in, NamespacePolicy.NONE).pod();
        assertThat(PodResources.qos(out.getSpec())).isEqualTo(QosClass.Guaranteed);
        for (String r : PodResources.COMPUTE) {
            assertThat(PodResources.effectiveRequest(out.getSpec(), r))
                    .as(r)
                    .isEqualByComparingTo(PodResources.effectiveRequest(in.getSpec(), r));
            assertThat(PodResources.effectiveLimit(out.getSpec(), r))
                    .as(r)
                    .isEqualByComparingTo(PodResources.effectiveLimit(in.getSpec(), r));
        }
    }

    @Test
    void mutate_namespaceWithQuotaOnLimitsCpuAndMemory_stillAdmitsTheInjectedPod_evenWhenFull() throws Exception {
        Pod in = withContainers(
                c("train", "requests.cpu=2", "limits.cpu=4", "requests.memory=8Gi", "limits.memory=16Gi"));
        List<ResourceQuota> quotas = List.of(
                quota("limits.cpu", "10", "6"),
                quota("limits.memory", "64Gi", "48Gi"),
                quota("requests.cpu", "2", "0"));
        assertThat(PodResources.quotaProblems(in.getSpec(), quotas))
                .as("fits exactly")
                .isEmpty();
        PodMutator.Result r = mutate(in, limits(List.of(), quotas));
        assertThat(r.pod()).isNotSameAs(in);
        assertThat(PodResources.quotaProblems(r.pod().getSpec(), quotas)).isEmpty();
    }

    @Test
    void mutate_namespaceWithLimitRange_waitStepWithinMinMaxAndRatio() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getResources().getLimits().put("cpu", new Quantity("16"));
        in.getSpec()
                .getContainers()
                .get(1)
                .getResources()
                .setLimits(Map.of("cpu", new Quantity("100m"), "memory", new Quantity("256Mi")));
        in.getSpec().getContainers().get(1).getResources().getRequests().put("memory", new Quantity("128Mi"));
        List<LimitRange> ranges = List.of(
                limitRange("Container", "min", "cpu", "50m"),
                limitRange("Container", "max", "memory", "64Gi"),
                limitRange("Container", "maxLimitRequestRatio", "cpu", "2"),
                limitRange("Container", "min", "memory", "20Mi"));
        assertThat(PodResources.limitRangeProblems(in.getSpec(), ranges))
                .as("the user's pod as admitted")
                .isEmpty();
        PodMutator.Result r = mutate(in, limits(ranges, List.of()));
        assertThat(r.pod()).isNotSameAs(in);
        assertThat(PodResources.limitRangeProblems(r.pod().getSpec(), ranges)).isEmpty();
        var res = waitStep(r.pod()).getResources();
        assertThat(res.getRequests())
                .containsEntry("cpu", new Quantity("50m"))
                .containsEntry("memory", new Quantity("20Mi"));
        assertThat(res.getLimits()).containsEntry("cpu", new Quantity("100m"));
    }

    @Test
    void refusedByNamespace_waitStepThatWouldChangeTheQosClass_isRefused() throws Exception {
        PodSpec admitted =
                withContainers(c("a", "limits.cpu=1", "limits.memory=1Gi")).getSpec();
        PodSpec injected =
                withContainers(c("a", "limits.cpu=1", "limits.memory=1Gi")).getSpec();
        injected.getInitContainers()
                .add(c("mithril-wait", "requests.cpu=10m", "requests.memory=16Mi", "limits.memory=32Mi"));
        assertThat(PodMutator.refusedByNamespace(admitted, injected, NamespacePolicy.NONE))
                .contains("from Guaranteed into Burstable");
        assertThat(PodMutator.refusedByNamespace(
                        admitted, injected, limits(List.of(), List.of(quota("limits.cpu", "8", "0")))))
                .contains("from Guaranteed");
    }

    static NamespacePolicy level(String enforce) {
        return new NamespacePolicy(enforce, List.of(), List.of());
    }

    @Test
    void mutate_baselineAndRestrictedNamespaces_getEmptyDirMode_withAWarning_neverAHostPath() throws Exception {
        for (String lvl : List.of("baseline", "restricted", "Restricted ", "nonsense")) {
            PodMutator.Result r = mutate(recordedPod(), level(lvl));
            assertThat(r.pod().getSpec().getVolumes()).as(lvl).noneMatch(v -> v.getHostPath() != null);
            assertThat(r.pod().getMetadata().getAnnotations())
                    .as(lvl)
                    .containsEntry("mithril.io/injected-volume", "EmptyDir");
            assertThat(r.warnings())
                    .as(lvl)
                    .anyMatch(w -> w.contains("Pod Security level") && w.contains("EmptyDir mode"));
        }
        SecurityContext sc =
                waitStep(mutate(recordedPod(), level("restricted")).pod()).getSecurityContext();
        // the restricted profile's container checks
        assertThat(sc.getRunAsNonRoot()).isTrue();
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    }

    @Test
    void mutate_privilegedOrUnlabelledNamespace_keepsHostPathMode_unlessTheClusterDefaultForbidsIt() throws Exception {
        for (String lvl : new String[] {"privileged", null}) {
            PodMutator.Result r = mutate(recordedPod(), level(lvl));
            assertThat(r.pod().getMetadata().getAnnotations()).containsEntry("mithril.io/injected-volume", "HostPath");
            assertThat(r.warnings()).noneMatch(w -> w.contains("Pod Security"));
        }
        PodMutator baselineByDefault = new PodMutator(
                Injection.defaults().withPodSecurity(new PodSecurity("baseline", PodSecurity.Fallback.EmptyDir)));
        PodMutator.Result r =
                baselineByDefault.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())), level(null));
        assertThat(r.pod().getMetadata().getAnnotations()).containsEntry("mithril.io/injected-volume", "EmptyDir");
        assertThat(r.warnings()).anyMatch(w -> w.contains("baseline (the cluster default)"));
    }

    @Test
    void mutate_restrictedNamespace_withFallbackSkip_injectsNothing_andSaysWhy() throws Exception {
        PodMutator skip = new PodMutator(
                Injection.defaults().withPodSecurity(new PodSecurity("privileged", PodSecurity.Fallback.Skip)));
        Pod in = recordedPod();
        PodMutator.Result r = skip.mutate(in, List.of(cache("gpt", new CompileCacheSpec())), level("restricted"));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings())
                .singleElement()
                .asString()
                .contains("restricted")
                .contains("no cache injected");
    }

    @Test
    void mutate_emptyDirMode_emptyDirHasASizeLimit_twiceTheBudget_orTheConfiguredOne() throws Exception {
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget("5Gi");
        PodMutator emptyDir = new PodMutator(Injection.defaults().withMode(VolumeMode.EmptyDir));
        Pod out = emptyDir.mutate(recordedPod(), List.of(cache("gpt", spec))).pod();
        assertThat(out.getSpec().getVolumes())
                .filteredOn(v -> v.getName().equals("mithril-cache"))
                .singleElement()
                .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("10240Mi")));
        Pod fixed = new PodMutator(
                        Injection.defaults().withMode(VolumeMode.EmptyDir).withEmptyDirSizeLimit("50Gi"))
                .mutate(recordedPod(), List.of(cache("gpt", spec)))
                .pod();
        assertThat(fixed.getSpec().getVolumes())
                .filteredOn(v -> v.getName().equals("mithril-cache"))
                .singleElement()
                .satisfies(v -> assertThat(v.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("50Gi")));
    }

    @Test
    void mutate_waitStep_runsAsThePodsUser_neverAHardCodedOne() throws Exception {
        PodMutator imageUser = new PodMutator(
                Injection.defaults().withWaitStep(WaitStep.defaults().withRunAsUser(null)));
        List<io.mithril.api.v1alpha1.CompileCache> caches = List.of(cache("gpt", new CompileCacheSpec()));
        // pod-level uid 1000: inherited, not repeated
        SecurityContext inherited =
                waitStep(imageUser.mutate(recordedPod(), caches).pod()).getSecurityContext();
        assertThat(inherited.getRunAsUser()).isNull();
        assertThat(inherited.getRunAsNonRoot()).isTrue();
        // no uid anywhere (OpenShift's restricted SCC assigns one): none set, non-root required
        Pod none = recordedPod();
        none.getSpec().setSecurityContext(null);
        SecurityContext assigned =
                waitStep(imageUser.mutate(none, caches).pod()).getSecurityContext();
        assertThat(assigned.getRunAsUser()).isNull();
        assertThat(assigned.getRunAsNonRoot()).isTrue();
        assertThat(waitStep(mutator.mutate(none, caches).pod())
                        .getSecurityContext()
                        .getRunAsUser())
                .as("configured uid")
                .isEqualTo(65534L);
        // the injected container's own uid and gid
        Pod own = recordedPod();
        own.getSpec()
                .getContainers()
                .get(0)
                .setSecurityContext(new io.fabric8.kubernetes.api.model.SecurityContextBuilder()
                        .withRunAsUser(2000L)
                        .withRunAsGroup(3000L)
                        .build());
        SecurityContext followed = waitStep(imageUser.mutate(own, caches).pod()).getSecurityContext();
        assertThat(followed.getRunAsUser()).isEqualTo(2000L);
        assertThat(followed.getRunAsGroup()).isEqualTo(3000L);
        // a root pod: a wait step as root (runAsNonRoot would keep it from starting)
        Pod root = recordedPod();
        root.getSpec().getSecurityContext().setRunAsUser(0L);
        assertThat(waitStep(imageUser.mutate(root, caches).pod())
                        .getSecurityContext()
                        .getRunAsNonRoot())
                .isNull();
    }

    @Test
    void mutate_waitPullSecrets_areAddedOnce() throws Exception {
        PodMutator withSecret = new PodMutator(
                Injection.defaults().withWaitStep(new WaitStep(Map.of(), Map.of(), null, List.of("mirror-creds"))));
        Pod in = recordedPod();
        in.getSpec()
                .getImagePullSecrets()
                .add(new io.fabric8.kubernetes.api.model.LocalObjectReference("mirror-creds"));
        in.getSpec().getImagePullSecrets().add(new io.fabric8.kubernetes.api.model.LocalObjectReference("team"));
        Pod out = withSecret
                .mutate(in, List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(out.getSpec().getImagePullSecrets())
                .extracting(r -> r.getName())
                .containsExactly("mirror-creds", "team");
        Pod fresh = withSecret
                .mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(fresh.getSpec().getImagePullSecrets())
                .extracting(r -> r.getName())
                .containsExactly("mirror-creds");
    }

    @Test
    void mutate_userMountAtTheCanonicalPath_writtenOtherwise_isRecognised() throws Exception {
        for (String path : List.of(
                "/var/cache/mithril/",
                "/var/cache//mithril",
                "/var/cache/./mithril/",
                "/var/cache/x/../mithril",
                "/var/lib/mithril/view/")) {
            Pod in = recordedPod();
            in.getSpec()
                    .getContainers()
                    .get(0)
                    .getVolumeMounts()
                    .add(new VolumeMountBuilder()
                            .withName("mine")
                            .withMountPath(path)
                            .build());
            PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
            assertThat(r.pod()).as(path).isSameAs(in);
            assertThat(r.warnings()).as(path).anyMatch(w -> w.contains("already mounts"));
        }
        assertThat(PodMutator.samePath("/var/cache/mithril-other", "/var/cache/mithril"))
                .isFalse();
    }

    @Test
    void mutate_invalidCompileCache_budgetZero_orABadSelectorOperator_injectsNothing_withAWarning() throws Exception {
        CompileCacheSpec zero = new CompileCacheSpec();
        zero.setBudget("0");
        Pod in = recordedPod();
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", zero)));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings())
                .singleElement()
                .asString()
                .contains("CompileCache gpt is invalid")
                .contains("spec.budget");
        CompileCacheSpec badOp = new CompileCacheSpec();
        badOp.setPodSelector(new io.fabric8.kubernetes.api.model.LabelSelectorBuilder()
                .addNewMatchExpression()
                .withKey("app")
                .withOperator("Equals")
                .withValues("gpt-train")
                .endMatchExpression()
                .build());
        assertThat(mutator.mutate(in, List.of(cache("gpt", badOp))).warnings())
                .singleElement()
                .asString()
                .contains("operator Equals");
    }

    @Test
    void ephemeralContainerRefusal_mountOfTheViewVolume_isRefused_otherDebugContainersAreNot() throws Exception {
        Pod injected = mutator.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(PodMutator.ephemeralContainerRefusal(injected)).isNull();
        injected.getSpec()
                .getEphemeralContainers()
                .add(new io.fabric8.kubernetes.api.model.EphemeralContainerBuilder()
                        .withName("debugger")
                        .withImage("busybox")
                        .build());
        assertThat(PodMutator.ephemeralContainerRefusal(injected)).isNull();
        injected.getSpec()
                .getEphemeralContainers()
                .add(new io.fabric8.kubernetes.api.model.EphemeralContainerBuilder()
                        .withName("peek")
                        .withImage("busybox")
                        .addNewVolumeMount()
                        .withName("mithril-view")
                        .withMountPath("/all")
                        .endVolumeMount()
                        .build());
        assertThat(PodMutator.ephemeralContainerRefusal(injected))
                .contains("peek")
                .contains("mithril-view");
    }
}
