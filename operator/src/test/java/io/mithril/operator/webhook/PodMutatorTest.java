package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvFromSourceBuilder;
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
import java.util.ArrayList;
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
        cc.setMetadata(
                new ObjectMetaBuilder().withName(name).withNamespace("team-a").build());
        cc.setSpec(spec);
        return cc;
    }

    static Map<String, String> env(Container c) {
        return c.getEnv().stream()
                .filter(e -> e.getValue() != null)
                .collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
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
        assertThat(env(train))
                .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor")
                .containsEntry("TRITON_CACHE_DIR", "/data/triton")
                .containsEntry("USER", "mithril");
        assertThat(r.warnings()).anyMatch(w -> w.contains("sets TRITON_CACHE_DIR; left as is"));
        assertThat(train.getEnv())
                .anyMatch(e -> e.getName().equals("MITHRIL_POD_UID")
                        && e.getValueFrom().getFieldRef().getFieldPath().equals("metadata.uid"));
        assertThat(train.getVolumeMounts())
                .anyMatch(m -> m.getMountPath().equals("/var/cache/mithril")
                        && m.getSubPathExpr() == null
                        && m.getName().equals("mithril-cache"));
        assertThat(train.getVolumeMounts())
                .anyMatch(m -> m.getMountPath().equals("/var/lib/mithril/view")
                        && m.getSubPathExpr().equals("$(MITHRIL_POD_UID)")
                        && m.getName().equals("mithril-view"));
        assertThat(shipper.getEnv()).isEmpty();
        assertThat(out.getSpec().getVolumes())
                .anyMatch(v -> v.getName().equals("mithril-cache") && v.getEmptyDir() != null);
        assertThat(out.getSpec().getVolumes())
                .anyMatch(v -> v.getName().equals("mithril-view")
                        && v.getHostPath().getPath().equals("/var/lib/mithril/volumes")
                        && v.getHostPath().getType().equals("DirectoryOrCreate"));
        Container wait = out.getSpec().getInitContainers().get(0);
        assertThat(wait.getName()).isEqualTo("mithril-wait");
        assertThat(wait.getCommand().get(2))
                .contains("/var/lib/mithril/view/.mithril-ready")
                .contains("-lt 30")
                .contains("for d in inductor triton;")
                .endsWith("exit 0");
        assertThat(wait.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(out.getMetadata().getAnnotations())
                .containsEntry("mithril.io/injected", "gpt")
                .containsEntry("mithril.io/injected-containers", "train")
                .containsEntry("mithril.io/injected-frameworks", "Inductor,Triton")
                .containsEntry("mithril.io/injected-volume", "HostPath");
    }

    @Test
    void mutate_isIdempotentUnderReinvocation() throws Exception {
        Pod once = mutator.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
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
        PodMutator.Result two =
                mutator.mutate(in, List.of(cache("a", new CompileCacheSpec()), cache("b", new CompileCacheSpec())));
        assertThat(two.pod()).isSameAs(in);
        assertThat(two.warnings())
                .singleElement()
                .asString()
                .contains("2 CompileCaches")
                .contains("mithril.io/cache-name");
        in.getMetadata().getAnnotations().put("mithril.io/cache-name", "b");
        assertThat(mutator.mutate(in, List.of(cache("a", new CompileCacheSpec()), cache("b", new CompileCacheSpec())))
                        .pod()
                        .getMetadata()
                        .getAnnotations())
                .containsEntry("mithril.io/injected", "b");
        in.getMetadata().getAnnotations().put("mithril.io/cache-name", "nope");
        assertThat(mutator.mutate(in, List.of(cache("a", new CompileCacheSpec())))
                        .warnings())
                .singleElement()
                .asString()
                .contains("nope")
                .contains("does not exist");
    }

    @Test
    void mutate_nonGpuPod_injectsEveryContainer_andNamedScopeOnlyThoseNamed() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getResources().getLimits().remove("nvidia.com/gpu");
        Pod all = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(all.getMetadata().getAnnotations())
                .containsEntry("mithril.io/injected-containers", "train,log-shipper");
        CompileCacheSpec named = new CompileCacheSpec();
        named.setContainers(ContainerScope.Named);
        named.setContainerNames(List.of("log-shipper"));
        named.setFrameworks(List.of(Framework.VLLM));
        Pod one = mutator.mutate(in, List.of(cache("gpt", named))).pod();
        assertThat(one.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-containers", "log-shipper");
        assertThat(env(one.getSpec().getContainers().get(1)))
                .containsEntry("VLLM_CACHE_ROOT", "/var/cache/mithril/vllm")
                .doesNotContainKey("CUDA_CACHE_PATH");
        assertThat(one.getSpec().getContainers().get(1).getEnv())
                .noneMatch(e -> e.getName().startsWith("VLLM_") && !e.getName().equals("VLLM_CACHE_ROOT"));
    }

    @Test
    void mutate_podSelectorMismatch_orUserMountAtTheCanonicalPath_changeNothing() throws Exception {
        Pod in = recordedPod();
        CompileCacheSpec sel = new CompileCacheSpec();
        sel.setPodSelector(
                new LabelSelectorBuilder().addToMatchLabels("app", "other").build());
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", sel)));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings()).singleElement().asString().contains("podSelector");
        in.getSpec()
                .getContainers()
                .get(0)
                .getVolumeMounts()
                .add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder()
                        .withName("mine")
                        .withMountPath("/var/cache/mithril")
                        .build());
        PodMutator.Result m = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(m.pod()).isSameAs(in);
        assertThat(m.warnings()).anyMatch(w -> w.contains("already mounts /var/cache/mithril"));
    }

    @Test
    void mutate_emptyDirMode_mountsNoHostPath_andWaitsForTheMarkerInTheCanonicalFolder() throws Exception {
        PodMutator emptyDir = new PodMutator(Injection.defaults().withMode(VolumeMode.EmptyDir));
        Pod out = emptyDir.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(out.getSpec().getVolumes()).noneMatch(v -> v.getHostPath() != null);
        assertThat(out.getSpec().getVolumes())
                .anyMatch(v -> v.getName().equals("mithril-cache") && v.getEmptyDir() != null);
        Container train = out.getSpec().getContainers().get(0);
        assertThat(train.getVolumeMounts()).noneMatch(m -> m.getName().equals("mithril-view"));
        assertThat(train.getEnv()).noneMatch(e -> e.getName().equals("MITHRIL_POD_UID"));
        assertThat(env(train)).containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor");
        Container wait = out.getSpec().getInitContainers().get(0);
        assertThat(wait.getCommand().get(2))
                .contains("/var/cache/mithril/.mithril-ready")
                .doesNotContain("ln -s");
        assertThat(wait.getVolumeMounts())
                .singleElement()
                .satisfies(m -> assertThat(m.getMountPath()).isEqualTo("/var/cache/mithril"));
        assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-volume", "EmptyDir");
    }

    @Test
    void mutate_containerSettingThePodUidVariableItself_getsNoView_forItCouldPointAtAnotherPodsFolder()
            throws Exception {
        Pod in = recordedPod();
        in.getSpec()
                .getContainers()
                .get(0)
                .getEnv()
                .add(new EnvVar("MITHRIL_POD_UID", "0df28fbd-0000-0000-0000-000000000000", null));
        PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
        assertThat(r.pod()).isSameAs(in);
        assertThat(r.warnings()).anyMatch(w -> w.contains("sets MITHRIL_POD_UID"));
    }

    @Test
    void mutate_podMountingTheInjectedVolumesByName_isNotInjected_forItWouldReachEveryView() throws Exception {
        for (String volume : List.of("mithril-view", "mithril-cache")) {
            Pod in = recordedPod();
            in.getSpec()
                    .getContainers()
                    .get(1)
                    .getVolumeMounts()
                    .add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder()
                            .withName(volume)
                            .withMountPath("/victim")
                            .withSubPathExpr("$(MITHRIL_POD_UID)")
                            .build());
            PodMutator.Result r = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())));
            assertThat(r.pod()).as(volume).isSameAs(in);
            assertThat(r.warnings()).anyMatch(w -> w.contains("mounts a volume named " + volume));
        }
        Pod init = recordedPod();
        init.getSpec()
                .getInitContainers()
                .add(new io.fabric8.kubernetes.api.model.ContainerBuilder()
                        .withName("peek")
                        .withImage("busybox")
                        .addNewVolumeMount()
                        .withName("mithril-view")
                        .withMountPath("/all")
                        .endVolumeMount()
                        .build());
        assertThat(mutator.mutate(init, List.of(cache("gpt", new CompileCacheSpec())))
                        .pod())
                .isSameAs(init);
    }

    @Test
    void userAndLogname_areRespected() throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getEnv().add(new EnvVar("LOGNAME", "alice", null));
        Pod out = mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(env(out.getSpec().getContainers().get(0)))
                .doesNotContainKey("USER")
                .containsEntry("LOGNAME", "alice");
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
            assertThat(env(out.getSpec().getContainers().get(0)))
                    .as(f.name())
                    .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor")
                    .containsEntry("TRITON_CACHE_DIR", "/var/cache/mithril/triton")
                    .containsEntry(f.envVar(), "/var/cache/mithril/" + own);
            assertThat(waitScript(out)).contains("for d in inductor triton " + own + ";");
            assertThat(out.getMetadata().getAnnotations())
                    .containsEntry("mithril.io/injected-frameworks", "Inductor,Triton," + f.name());
        }
        Pod both = mutator.mutate(
                        recordedPod(),
                        List.of(cache("gpt", frameworks(Framework.SGLang, Framework.Inductor, Framework.VLLM))))
                .pod();
        assertThat(both.getMetadata().getAnnotations())
                .as("each once, in declaration order")
                .containsEntry("mithril.io/injected-frameworks", "Inductor,Triton,VLLM,SGLang");
    }

    @Test
    void flashInfer_pointsItsWorkspaceBaseAtItsFolder_andLinksIt() throws Exception {
        Pod out = mutator.mutate(recordedPod(), List.of(cache("gpt", frameworks(Framework.FlashInfer))))
                .pod();
        assertThat(env(out.getSpec().getContainers().get(0)))
                .containsEntry("FLASHINFER_WORKSPACE_BASE", "/var/cache/mithril/flashinfer")
                .doesNotContainKey("TORCHINDUCTOR_CACHE_DIR");
        assertThat(waitScript(out)).contains("for d in flashinfer;");
        assertThat(out.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-frameworks", "FlashInfer");
    }

    @Test
    void cudaJit_pointsAtTheCurrentDriversFolder_linksTheCudaFolder_andSetsTheLargestCacheSize() throws Exception {
        Pod out = mutator.mutate(recordedPod(), List.of(cache("gpt", frameworks(Framework.CudaJIT))))
                .pod();
        assertThat(env(out.getSpec().getContainers().get(0)))
                .containsEntry("CUDA_CACHE_PATH", "/var/cache/mithril/cuda/current")
                .containsEntry("CUDA_CACHE_MAXSIZE", "4294967296");
        assertThat(waitScript(out))
                .contains("for d in cuda;")
                .contains("ln -s /var/lib/mithril/view/$d /var/cache/mithril/$d");
        assertThat(env(out.getSpec().getContainers().get(1)))
                .as("not a target")
                .doesNotContainKey("CUDA_CACHE_MAXSIZE");
        Pod own = recordedPod();
        own.getSpec().getContainers().get(0).getEnv().add(new EnvVar("CUDA_CACHE_MAXSIZE", "1073741824", null));
        PodMutator.Result r = mutator.mutate(own, List.of(cache("gpt", frameworks(Framework.CudaJIT))));
        assertThat(r.pod().getSpec().getContainers().get(0).getEnv())
                .filteredOn(e -> e.getName().equals("CUDA_CACHE_MAXSIZE"))
                .singleElement()
                .satisfies(e -> assertThat(e.getValue()).isEqualTo("1073741824"));
        Pod plain = mutator.mutate(recordedPod(), List.of(cache("gpt", new CompileCacheSpec())))
                .pod();
        assertThat(env(plain.getSpec().getContainers().get(0)))
                .as("only with CudaJIT")
                .doesNotContainKey("CUDA_CACHE_MAXSIZE");
    }

    /** ConfigMaps of team-a: cache-env sets TRITON_CACHE_DIR, suffix-env CACHE_DIR, uid-env MITHRIL_POD_UID and LOGNAME and CUDA_CACHE_MAXSIZE; locked is forbidden. */
    final List<String> reads = new ArrayList<>();

    final ConfigMapLookup configMaps = (ns, name) -> {
        reads.add(ns + "/" + name);
        return switch (name) {
            case "cache-env" -> new ConfigMapLookup.Found(Map.of("TRITON_CACHE_DIR", "/cm/triton", "OTHER", "x"));
            case "suffix-env" -> new ConfigMapLookup.Found(Map.of("CACHE_DIR", "/cm/triton"));
            case "uid-env" ->
                new ConfigMapLookup.Found(
                        Map.of("MITHRIL_POD_UID", "someone-else", "LOGNAME", "bob", "CUDA_CACHE_MAXSIZE", "1"));
            case "locked" -> new ConfigMapLookup.Unreadable("forbidden");
            default -> new ConfigMapLookup.Missing();
        };
    };

    static EnvFromSource fromConfigMap(String name, String prefix, Boolean optional) {
        return new EnvFromSourceBuilder()
                .withPrefix(prefix)
                .withNewConfigMapRef(name, optional)
                .build();
    }

    static EnvFromSource fromSecret(String name, String prefix) {
        return new EnvFromSourceBuilder()
                .withPrefix(prefix)
                .withNewSecretRef(name, null)
                .build();
    }

    /** The recorded pod, its GPU container's own env gone and these envFrom sources instead, injected with Inductor and Triton. */
    PodMutator.Result withEnvFrom(CompileCacheSpec spec, EnvFromSource... from) throws Exception {
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).getEnv().clear();
        in.getSpec().getContainers().get(0).setEnvFrom(new ArrayList<>(List.of(from)));
        return mutator.mutate(in, List.of(cache("gpt", spec)), NamespacePolicy.NONE, configMaps);
    }

    @Test
    void envFromConfigMap_settingACacheVariable_leavesIt_withTheWarningEnvGets() throws Exception {
        PodMutator.Result r = withEnvFrom(new CompileCacheSpec(), fromConfigMap("cache-env", null, null));
        Map<String, String> env = env(r.pod().getSpec().getContainers().get(0));
        assertThat(env)
                .doesNotContainKey("TRITON_CACHE_DIR")
                .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor");
        assertThat(r.warnings())
                .singleElement()
                .asString()
                .contains(
                        "container train sets TRITON_CACHE_DIR (from ConfigMap cache-env through envFrom); left as is");
        assertThat(reads).containsExactly("team-a/cache-env");
    }

    @Test
    void envFromConfigMap_aPrefixThatMakesOtherNames_isInjectedWithoutWarning_oneThatMakesTheName_isLeft()
            throws Exception {
        PodMutator.Result other = withEnvFrom(new CompileCacheSpec(), fromConfigMap("cache-env", "APP_", null));
        assertThat(env(other.pod().getSpec().getContainers().get(0)))
                .containsEntry("TRITON_CACHE_DIR", "/var/cache/mithril/triton");
        assertThat(other.warnings()).isEmpty();
        PodMutator.Result made = withEnvFrom(new CompileCacheSpec(), fromConfigMap("suffix-env", "TRITON_", null));
        assertThat(env(made.pod().getSpec().getContainers().get(0))).doesNotContainKey("TRITON_CACHE_DIR");
        assertThat(made.warnings())
                .singleElement()
                .asString()
                .contains("sets TRITON_CACHE_DIR (from ConfigMap suffix-env");
    }

    @Test
    void envFromConfigMap_settingThePodUid_getsNoView_andItsLognameAndCacheSize_areRespected() throws Exception {
        PodMutator.Result uid = withEnvFrom(new CompileCacheSpec(), fromConfigMap("uid-env", null, null));
        assertThat(uid.pod().getMetadata().getAnnotations()).doesNotContainKey("mithril.io/injected");
        assertThat(uid.warnings())
                .anyMatch(w ->
                        w.contains("sets MITHRIL_POD_UID (from ConfigMap uid-env through envFrom); no cache for it"));
        PodMutator emptyDir = new PodMutator(Injection.defaults().withMode(VolumeMode.EmptyDir));
        Pod in = recordedPod();
        in.getSpec().getContainers().get(0).setEnvFrom(new ArrayList<>(List.of(fromConfigMap("uid-env", null, null))));
        Pod out = emptyDir.mutate(
                        in, List.of(cache("gpt", frameworks(Framework.CudaJIT))), NamespacePolicy.NONE, configMaps)
                .pod();
        assertThat(env(out.getSpec().getContainers().get(0)))
                .as("LOGNAME set: no USER; its own size kept")
                .doesNotContainKey("USER")
                .doesNotContainKey("CUDA_CACHE_MAXSIZE")
                .containsKey("CUDA_CACHE_PATH");
    }

    @Test
    void envFromSecret_isNeverRead_soTheInjectedValuesOverrideIt_andTheWarningNamesSourceAndVariables()
            throws Exception {
        PodMutator.Result all = withEnvFrom(new CompileCacheSpec(), fromSecret("hf-token", null));
        assertThat(env(all.pod().getSpec().getContainers().get(0)))
                .containsEntry("TRITON_CACHE_DIR", "/var/cache/mithril/triton");
        assertThat(all.warnings())
                .singleElement()
                .asString()
                .contains("container train")
                .contains(
                        "the injected MITHRIL_POD_UID, TORCHINDUCTOR_CACHE_DIR, TRITON_CACHE_DIR, USER override whatever Secret hf-token")
                .contains("Secrets are not read");
        assertThat(reads).as("no ConfigMap read either").isEmpty();
        PodMutator.Result triton = withEnvFrom(new CompileCacheSpec(), fromSecret("hf-token", "TRITON_"));
        assertThat(triton.warnings())
                .singleElement()
                .asString()
                .contains(
                        "the injected TRITON_CACHE_DIR overrides whatever Secret hf-token (envFrom, prefix TRITON_) sets for it");
        assertThat(withEnvFrom(new CompileCacheSpec(), fromSecret("hf-token", "HF_"))
                        .warnings())
                .as("prefix makes none of them")
                .isEmpty();
    }

    @Test
    void envFromConfigMap_unreadableOrMissing_isInjectedWithAWarning_anOptionalMissingOne_silently() throws Exception {
        PodMutator.Result locked = withEnvFrom(new CompileCacheSpec(), fromConfigMap("locked", "TORCH", null));
        assertThat(env(locked.pod().getSpec().getContainers().get(0)))
                .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/var/cache/mithril/inductor");
        assertThat(locked.warnings())
                .singleElement()
                .asString()
                .contains(
                        "the injected TORCHINDUCTOR_CACHE_DIR overrides whatever ConfigMap locked (envFrom, prefix TORCH)")
                .contains("could not be read (forbidden)");
        PodMutator.Result missing = withEnvFrom(new CompileCacheSpec(), fromConfigMap("gone", null, false));
        assertThat(missing.warnings())
                .singleElement()
                .asString()
                .contains("ConfigMap gone")
                .contains("does not exist");
        PodMutator.Result optional = withEnvFrom(new CompileCacheSpec(), fromConfigMap("gone", null, true));
        assertThat(env(optional.pod().getSpec().getContainers().get(0)))
                .containsEntry("TRITON_CACHE_DIR", "/var/cache/mithril/triton");
        assertThat(optional.warnings()).isEmpty();
        Pod in = recordedPod();
        in.getSpec()
                .getContainers()
                .get(0)
                .setEnvFrom(new ArrayList<>(List.of(fromConfigMap("cache-env", null, null))));
        assertThat(mutator.mutate(in, List.of(cache("gpt", new CompileCacheSpec())))
                        .warnings())
                .as("no lookup: unknown, said")
                .anyMatch(w -> w.contains("ConfigMap cache-env") && w.contains("not looked up"));
    }

    @Test
    void envFromConfigMap_isReadOncePerPod_andOnlyForTargetContainers() throws Exception {
        Pod in = recordedPod();
        in.getSpec()
                .getContainers()
                .forEach(c -> c.setEnvFrom(new ArrayList<>(List.of(fromConfigMap("cache-env", null, null)))));
        CompileCacheSpec every = new CompileCacheSpec();
        every.setContainers(ContainerScope.AllContainers);
        mutator.mutate(in, List.of(cache("gpt", every)), NamespacePolicy.NONE, configMaps);
        assertThat(reads).containsExactly("team-a/cache-env");
        reads.clear();
        Pod gpuOnly = recordedPod();
        gpuOnly.getSpec()
                .getContainers()
                .get(1)
                .setEnvFrom(new ArrayList<>(List.of(fromConfigMap("cache-env", null, null))));
        mutator.mutate(gpuOnly, List.of(cache("gpt", new CompileCacheSpec())), NamespacePolicy.NONE, configMaps);
        assertThat(reads).as("log-shipper is not a target").isEmpty();
    }
}
