package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.ContainerScope;
import io.mithril.api.v1alpha1.Framework;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The webhook's pure decision, on a pod as the API server sends it in an AdmissionReview. */
class PodMutatorTest {

    final PodMutator mutator = new PodMutator(Injection.defaults());

    static Pod recordedPod() throws Exception {
        try (InputStream in = PodMutatorTest.class.getResourceAsStream("/admission/gpu-pod-review.json")) {
            AdmissionReview r = Serialization.unmarshal(in, AdmissionReview.class);
            return (Pod) r.getRequest().getObject();
        }
    }

    static CompileCache cache(String name, CompileCacheSpec spec) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("team-a").build());
        cc.setSpec(spec);
        return cc;
    }

    static Map<String, String> env(Container c) {
        return c.getEnv().stream().filter(e -> e.getValue() != null).collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
    }

    @Test
    void mutate_annotatedGpuPod_injectsTheGpuContainerOnly() throws Exception {
        Pod in = recordedPod();
        String before = Serialization.asJson(in);
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        Pod out = r.pod();
        assertThat(out).isNotSameAs(in);
        assertThat(Serialization.asJson(in)).as("input untouched").isEqualTo(before);
        Container train = out.getSpec().getContainers().get(0);
        Container shipper = out.getSpec().getContainers().get(1);
        assertThat(env(train)).containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor")
                .containsEntry("TRITON_CACHE_DIR", "/data/triton").containsEntry("USER", "mithril");
        assertThat(r.warnings()).anyMatch(w -> w.contains("sets TRITON_CACHE_DIR; left as is"));
        assertThat(train.getEnv()).anyMatch(e -> e.getName().equals("MITHRIL_POD_UID")
                && e.getValueFrom().getFieldRef().getFieldPath().equals("metadata.uid"));
        assertThat(train.getVolumeMounts()).anyMatch(m -> m.getMountPath().equals("/var/cache/mithril")
                && m.getSubPathExpr() == null && m.getName().equals("mithril-cache"));
        assertThat(train.getVolumeMounts()).anyMatch(m -> m.getMountPath().equals("/var/lib/mithril/view")
                && m.getSubPathExpr().equals("$(MITHRIL_POD_UID)") && m.getName().equals("mithril-view"));
        assertThat(shipper.getEnv()).isEmpty();
        assertThat(out.getSpec().getVolumes()).anyMatch(v -> v.getName().equals("mithril-cache") && v.getEmptyDir() != null);
        assertThat(out.getSpec().getVolumes()).anyMatch(v -> v.getName().equals("mithril-view")
                && v.getHostPath().getPath().equals("/var/lib/mithril/volumes") && v.getHostPath().getType().equals("DirectoryOrCreate"));
        Container wait = out.getSpec().getInitContainers().get(0);
        assertThat(wait.getName()).isEqualTo("mithril-wait");
        assertThat(wait.getCommand().get(2)).contains("/var/lib/mithril/view/.mithril-ready")
                .contains("-lt 30").contains("for d in inductor triton;").endsWith("exit 0");
        assertThat(wait.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected", "gpt")
                .containsEntry("mithril.io/injected-containers", "train")
                .containsEntry("mithril.io/injected-frameworks", "Inductor,Triton")
                .containsEntry("mithril.io/injected-volume", "HostPath");
    }

    @Test
    void mutate_isIdempotentUnderReinvocation() throws Exception {
        Pod once = mutator.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec()))).pod();
        PodMutator.Result twice = mutator.mutate(once, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(twice.pod()).isSameAs(once);
        assertThat(twice.warnings()).isEmpty();
    }

    @Test
    void mutate_podWithoutAnnotation_returnsSameInstance() throws Exception {
        Pod in = recordedPod();
        in.getMetadata().getAnnotations().remove("mithril.io/cache");
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings()).isEmpty();
    }

    @Test
    void mutate_noneOrSeveralCompileCaches_changeNothingAndSayWhy() throws Exception {
        Pod in = recordedPod();
        PodMutator.Result none = mutator.mutate(in, List.of());
        assertThat(none.pod()).isSameAs(in);
        assertThat(none.warnings()).singleElement().asString().contains("no CompileCache in this namespace");
        PodMutator.Result two = mutator.mutate(in, List.of(cache("a", new CompileCacheSpec()), cache("b", new CompileCacheSpec())));
        assertThat(two.pod()).isSameAs(in);
        assertThat(two.warnings()).singleElement().asString().contains("2 CompileCaches").contains("mithril.io/cache-name");
        in.getMetadata().getAnnotations().put("mithril.io/cache-name", "b");
        assertThat(mutator.mutate(in, List.of(cache("a", new CompileCacheSpec()), cache("b", new CompileCacheSpec())))
                .pod().getMetadata().getAnnotations()).containsEntry("mithril.io/injected", "b");
        in.getMetadata().getAnnotations().put("mithril.io/cache-name", "nope");
        assertThat(mutator.mutate(in, List.of(cache("a", new CompileCacheSpec()))).warnings())
                .singleElement().asString().contains("nope").contains("does not exist");
    }

    @Test
    void mutate_nonGpuPod_injectsEveryContainer_andNamedScopeOnlyThoseNamed() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getResources().getLimits().remove("nvidia.com/gpu");
        Pod all = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec()))).pod();
        assertThat(all.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-containers", "train,log-shipper");
        CompileCacheSpec named = new CompileCacheSpec();
        named.setContainers(ContainerScope.Named);
        named.setContainerNames(List.of("log-shipper"));
        named.setFrameworks(List.of(Framework.VLLM));
        Pod one = mutator.mutate(in, List.of(cache("gpt", named))).pod();
        assertThat(one.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-containers", "log-shipper");
        assertThat(env(one.getSpec().getContainers().get(1))).containsEntry("VLLM_CACHE_ROOT", "/var/cache/mithril/vllm")
                .doesNotContainKey("CUDA_CACHE_PATH");
        assertThat(one.getSpec().getContainers().get(1).getEnv()).noneMatch(e -> e.getName().startsWith("VLLM_")
                && !e.getName().equals("VLLM_CACHE_ROOT"));
    }

    @Test
    void mutate_podSelectorMismatch_orUserMountAtTheCanonicalPath_changeNothing() throws Exception {
        Pod in = recordedPod();
        CompileCacheSpec sel = new CompileCacheSpec();
        sel.setPodSelector(new LabelSelectorBuilder().addToMatchLabels("app", "other").build());
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", sel)));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings()).singleElement().asString().contains("podSelector");
        in.getSpec().getContainers().get(0).getVolumeMounts().add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder()
                .withName("mine").withMountPath("/var/cache/mithril").build());
        PodMutator.Result m = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(m.pod()).isSameAs(in);
        assertThat(m.warnings()).anyMatch(w -> w.contains("already mounts /var/cache/mithril"));
    }

    @Test
    void mutate_emptyDirMode_mountsNoHostPath_andWaitsForTheMarkerInTheCanonicalFolder() throws Exception {
        PodMutator emptyDir = new PodMutator(Injection.defaults().withMode(VolumeMode.EmptyDir));
        Pod out = emptyDir.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec()))).pod();
        assertThat(out.getSpec().getVolumes()).noneMatch(v -> v.getHostPath() != null);
        assertThat(out.getSpec().getVolumes()).anyMatch(v -> v.getName().equals("mithril-cache") && v.getEmptyDir() != null);
        Container train = out.getSpec().getContainers().get(0);
        assertThat(train.getVolumeMounts()).noneMatch(m -> m.getName().equals("mithril-view"));
        assertThat(train.getEnv()).noneMatch(e -> e.getName().equals("MITHRIL_POD_UID"));
        assertThat(env(train)).containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor");
        Container wait = out.getSpec().getInitContainers().get(0);
        assertThat(wait.getCommand().get(2)).contains("/var/cache/mithril/.mithril-ready").doesNotContain("ln -s");
        assertThat(wait.getVolumeMounts()).singleElement().satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/var/cache/mithril"));
        assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-volume", "EmptyDir");
    }

    @Test
    void mutate_containerSettingThePodUidVariableItself_getsNoView_forItCouldPointAtAnotherPodsFolder() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getEnv().add(new EnvVar("MITHRIL_POD_UID", "0df28fbd-0000-0000-0000-000000000000", null));
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings()).anyMatch(w -> w.contains("sets MITHRIL_POD_UID"));
    }

    @Test
    void mutate_podMountingTheInjectedVolumesByName_isNotInjected_forItWouldReachEveryView() throws Exception {
        for (String volume : List.of("mithril-view", "mithril-cache")) {
            Pod in = recordedPod();
            in.getSpec().getContainers().get(1).getVolumeMounts().add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder()
                    .withName(volume).withMountPath("/victim").withSubPathExpr("$(MITHRIL_POD_UID)").build());
            PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
            assertThat(r.pod()).as(volume).isSameAs(in);
            assertThat(r.warnings()).anyMatch(w -> w.contains("mounts a volume named " + volume));
        }
        Pod init = recordedPod();
        init.getSpec().getInitContainers().add(new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("peek").withImage("busybox")
                .addNewVolumeMount().withName("mithril-view").withMountPath("/all").endVolumeMount().build());
        assertThat(mutator.mutate(init, List.of(cache("gpt", new CompileCacheSpec()))).pod()).isSameAs(init);
    }

    @Test
    void userAndLogname_areRespected() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getEnv().add(new EnvVar("LOGNAME", "alice", null));
        Pod out = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec()))).pod();
        assertThat(env(out.getSpec().getContainers().get(0))).doesNotContainKey("USER").containsEntry("LOGNAME", "alice");
    }

    static CompileCacheSpec frameworks(Framework... f) {
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setFrameworks(List.of(f));
        return spec;
    }

    static String waitScript(Pod out) {
        return out.getSpec().getInitContainers().get(0).getCommand().get(2);
    }

    @Test
    void vllmAndSglang_bringInductorAndTriton_inTheEnv_theLinks_andTheAnnotation() throws Exception {
        for (Framework f : List.of(Framework.VLLM, Framework.SGLang)) {
            Pod in = recordedPod();
            in.getSpec().getContainers().get(0).getEnv().clear();
            Pod out = mutator.mutate(in, List.of(cache("gpt", frameworks(f)))).pod();
            String own = f == Framework.VLLM ? "vllm" : "sglang";
            assertThat(env(out.getSpec().getContainers().get(0))).as(f.name())
                    .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor")
                    .containsEntry("TRITON_CACHE_DIR", "/var/cache/mithril/triton")
                    .containsEntry(Injection.envVar(f), "/var/cache/mithril/" + own);
            assertThat(waitScript(out)).contains("for d in inductor triton " + own + ";");
            assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-frameworks", "Inductor,Triton," + f.name());
        }
        Pod both = mutator.mutate(recordedPod(), List.of(cache("gpt", frameworks(Framework.SGLang, Framework.Inductor, Framework.VLLM))))
                .pod();
        assertThat(both.getMetadata().getAnnotations()).as("each once, in declaration order")
                .containsEntry("mithril.io/injected-frameworks", "Inductor,Triton,VLLM,SGLang");
    }

    @Test
    void flashInfer_pointsItsWorkspaceBaseAtItsFolder_andLinksIt() throws Exception {
        Pod out = mutator.mutate(recordedPod(), List.of(cache("gpt", frameworks(Framework.FlashInfer)))).pod();
        assertThat(env(out.getSpec().getContainers().get(0))).containsEntry("FLASHINFER_WORKSPACE_BASE", "/var/cache/mithril/flashinfer")
                .doesNotContainKey("TORCHINDUCTOR_CACHE_DIR");
        assertThat(waitScript(out)).contains("for d in flashinfer;");
        assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-frameworks", "FlashInfer");
    }

    @Test
    void cudaJit_pointsAtTheCurrentDriversFolder_linksTheCudaFolder_andSetsTheLargestCacheSize() throws Exception {
        Pod out = mutator.mutate(recordedPod(), List.of(cache("gpt", frameworks(Framework.CudaJIT)))).pod();
        assertThat(env(out.getSpec().getContainers().get(0))).containsEntry("CUDA_CACHE_PATH", "/var/cache/mithril/cuda/current")
                .containsEntry("CUDA_CACHE_MAXSIZE", "4294967296");
        assertThat(waitScript(out)).contains("for d in cuda;").contains("ln -s /var/lib/mithril/view/$d /var/cache/mithril/$d");
        assertThat(env(out.getSpec().getContainers().get(1))).as("not a target").doesNotContainKey("CUDA_CACHE_MAXSIZE");
        Pod own = recordedPod();
        own.getSpec().getContainers().get(0).getEnv().add(new EnvVar("CUDA_CACHE_MAXSIZE", "1073741824", null));
        PodMutator.Result r = mutator.mutate(own, List.of(cache("gpt", frameworks(Framework.CudaJIT))));
        assertThat(r.pod().getSpec().getContainers().get(0).getEnv()).filteredOn(e -> e.getName().equals("CUDA_CACHE_MAXSIZE"))
                .singleElement().satisfies(e -> assertThat(e.getValue()).isEqualTo("1073741824"));
        Pod plain = mutator.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec()))).pod();
        assertThat(env(plain.getSpec().getContainers().get(0))).as("only with CudaJIT").doesNotContainKey("CUDA_CACHE_MAXSIZE");
    }
}
