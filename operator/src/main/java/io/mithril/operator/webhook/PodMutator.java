package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.ContainerScope;
import io.mithril.api.v1alpha1.Framework;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The webhook's decision as a pure function: a pod and the CompileCaches of its namespace in, the
 * pod to admit and the warnings to return out. It returns the <em>same instance</em> when nothing
 * applies (not annotated, already injected, no or ambiguous CompileCache, not selected), so the
 * adapter answers without a patch. It never overwrites what the user set (an env var, a mount at the
 * canonical path, a volume of the same name): it warns instead.
 *
 * <p>What it adds, for the target containers: the cache variables of the CompileCache's frameworks
 * under one canonical mount path (an emptyDir); the node's view (hostPath, {@code subPathExpr} on the
 * pod UID from the downward API, {@code MITHRIL_POD_UID}); {@code USER} when the container sets
 * neither {@code USER} nor {@code LOGNAME} (torch before 2.13 crashes at import without a passwd entry
 * or one of them). For the pod: both volumes, an init step that waits for the agent's ready marker,
 * links the view in, and gives up after the CompileCache's timeout (fail-open), and annotations
 * recording what was done. See {@link Injection} for why two volumes.
 */
public final class PodMutator {

    public record Result(Pod pod, List<String> warnings) {}

    private final Injection injection;

    public PodMutator(Injection injection) {
        this.injection = injection;
    }

    public Result mutate(Pod pod, List<CompileCache> cachesInNamespace) {
        Map<String, String> ann = pod.getMetadata() == null || pod.getMetadata().getAnnotations() == null
                ? Map.of() : pod.getMetadata().getAnnotations();
        if (!"enabled".equals(ann.get(CompileCache.ANNOTATION_ENABLED))) {
            return new Result(pod, List.of());
        }
        if (ann.containsKey(Injection.ANNOTATION_INJECTED)) {
            return new Result(pod, List.of()); // reinvocation: already done
        }
        List<String> warnings = new ArrayList<>();
        CompileCache cc = resolve(ann.get(CompileCache.ANNOTATION_NAME), cachesInNamespace, warnings);
        if (cc == null) {
            return new Result(pod, warnings);
        }
        CompileCacheSpec spec = cc.getSpec() == null ? new CompileCacheSpec() : cc.getSpec();
        Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
        if (spec.getPodSelector() != null && !matches(spec.getPodSelector(), labels)) {
            warnings.add("mithril: pod does not match the podSelector of CompileCache " + cc.getMetadata().getName()
                    + "; no cache injected");
            return new Result(pod, warnings);
        }
        for (String name : volumeNames()) {
            if (pod.getSpec().getVolumes() != null && pod.getSpec().getVolumes().stream().anyMatch(v -> name.equals(v.getName()))) {
                warnings.add("mithril: the pod already has a volume named " + name + "; no cache injected");
                return new Result(pod, warnings);
            }
            // a mount of a volume the pod does not declare is only valid once we add it: the node's views
            if (mountsVolume(pod, name)) {
                warnings.add("mithril: a container of the pod mounts a volume named " + name + " that only the webhook adds; "
                        + "no cache injected");
                return new Result(pod, warnings);
            }
        }
        List<Framework> frameworks = spec.getFrameworks() == null || spec.getFrameworks().isEmpty()
                ? List.of(Framework.Inductor, Framework.Triton) : spec.getFrameworks();
        Pod out = new PodBuilder(pod).build(); // a deep copy: the input stays untouched
        List<Container> targets = targets(out.getSpec().getContainers(), spec, warnings);
        List<String> injected = new ArrayList<>();
        for (Container c : targets) {
            if (inject(c, frameworks, warnings)) {
                injected.add(c.getName());
            }
        }
        if (injected.isEmpty()) {
            return new Result(pod, warnings);
        }
        out.getSpec().getVolumes().add(new VolumeBuilder().withName(Injection.VOLUME).withNewEmptyDir().endEmptyDir().build());
        if (hostPathMode()) {
            out.getSpec().getVolumes().add(new VolumeBuilder().withName(Injection.VIEW_VOLUME)
                    .withNewHostPath().withPath(injection.hostPath()).withType("DirectoryOrCreate").endHostPath().build());
        }
        out.getSpec().getInitContainers().add(0, waitContainer(spec, frameworks));
        Map<String, String> newAnn = new LinkedHashMap<>(ann);
        newAnn.put(Injection.ANNOTATION_INJECTED, cc.getMetadata().getName());
        newAnn.put(Injection.ANNOTATION_CONTAINERS, String.join(",", injected));
        newAnn.put(Injection.ANNOTATION_FRAMEWORKS, String.join(",", frameworks.stream().map(Framework::name).toList()));
        newAnn.put(Injection.ANNOTATION_VOLUME, injection.mode().name());
        out.getMetadata().setAnnotations(newAnn);
        return new Result(out, warnings);
    }

    private static CompileCache resolve(String named, List<CompileCache> caches, List<String> warnings) {
        if (named != null && !named.isBlank()) {
            for (CompileCache c : caches) {
                if (named.equals(c.getMetadata().getName())) {
                    return c;
                }
            }
            warnings.add("mithril: CompileCache " + named + " (from " + CompileCache.ANNOTATION_NAME
                    + ") does not exist in this namespace; no cache injected");
            return null;
        }
        if (caches.isEmpty()) {
            warnings.add("mithril: no CompileCache in this namespace; create one to use the cache (no cache injected)");
            return null;
        }
        if (caches.size() > 1) {
            warnings.add("mithril: " + caches.size() + " CompileCaches in this namespace; name one with the annotation "
                    + CompileCache.ANNOTATION_NAME + " (no cache injected)");
            return null;
        }
        return caches.get(0);
    }

    private static List<Container> targets(List<Container> containers, CompileCacheSpec spec, List<String> warnings) {
        ContainerScope scope = spec.getContainers() == null ? ContainerScope.GpuContainers : spec.getContainers();
        switch (scope) {
            case AllContainers:
                return containers;
            case Named: {
                List<String> names = spec.getContainerNames() == null ? List.of() : spec.getContainerNames();
                List<Container> out = containers.stream().filter(c -> names.contains(c.getName())).toList();
                if (out.size() < names.size()) {
                    warnings.add("mithril: some containers named by the CompileCache are not in this pod");
                }
                return out;
            }
            default: {
                List<Container> gpu = containers.stream().filter(PodMutator::requestsGpu).toList();
                return gpu.isEmpty() ? containers : gpu;
            }
        }
    }

    static boolean requestsGpu(Container c) {
        if (c.getResources() == null) {
            return false;
        }
        for (Map<String, Quantity> m : new ArrayList<>(java.util.Arrays.asList(c.getResources().getLimits(), c.getResources().getRequests()))) {
            if (m != null && m.containsKey(Injection.GPU_RESOURCE)) {
                return true;
            }
        }
        return false;
    }

    /** Adds mount and variables to one container; false (with a warning) when the user's own mount is in the way. */
    private boolean inject(Container c, List<Framework> frameworks, List<String> warnings) {
        List<VolumeMount> mounts = c.getVolumeMounts();
        for (String path : hostPathMode() ? List.of(injection.mountPath(), injection.viewPath()) : List.of(injection.mountPath())) {
            if (mounts.stream().anyMatch(m -> path.equals(m.getMountPath()))) {
                warnings.add("mithril: container " + c.getName() + " already mounts " + path + "; left as is (no cache for it)");
                return false;
            }
        }
        List<EnvVar> env = c.getEnv();
        if (hostPathMode() && has(env, Injection.POD_UID_ENV)) {
            // the view's subPathExpr resolves through it: a value of the user's could mount another pod's view
            warnings.add("mithril: container " + c.getName() + " sets " + Injection.POD_UID_ENV + "; no cache for it");
            return false;
        }
        if (hostPathMode()) {
            env.add(0, new EnvVarBuilder().withName(Injection.POD_UID_ENV).withNewValueFrom().withNewFieldRef()
                    .withFieldPath("metadata.uid").endFieldRef().endValueFrom().build());
        }
        for (Framework f : frameworks) {
            String name = Injection.envVar(f);
            if (has(env, name)) {
                warnings.add("mithril: container " + c.getName() + " sets " + name + "; left as is (that cache is not shared)");
                continue;
            }
            env.add(new EnvVar(name, injection.mountPath() + "/" + Injection.dir(f), null));
        }
        if (!has(env, "USER") && !has(env, "LOGNAME")) {
            env.add(new EnvVar("USER", "mithril", null));
        }
        mounts.addAll(mounts(false));
        return true;
    }

    private boolean hostPathMode() {
        return injection.mode() == VolumeMode.HostPath;
    }

    private List<String> volumeNames() {
        return hostPathMode() ? List.of(Injection.VOLUME, Injection.VIEW_VOLUME) : List.of(Injection.VOLUME);
    }

    private List<VolumeMount> mounts(boolean init) {
        if (!hostPathMode()) {
            return List.of(new VolumeMountBuilder().withName(Injection.VOLUME).withMountPath(injection.mountPath()).build());
        }
        return List.of(new VolumeMountBuilder().withName(Injection.VOLUME).withMountPath(injection.mountPath()).build(),
                new VolumeMountBuilder().withName(Injection.VIEW_VOLUME).withMountPath(injection.viewPath())
                        .withSubPathExpr("$(" + Injection.POD_UID_ENV + ")").withReadOnly(init ? Boolean.TRUE : null).build());
    }

    /**
     * The init step's script (POSIX sh): wait for the marker at most {@code timeout} seconds; then link
     * each framework folder of the canonical path to the view's, unless something is there already
     * (a restarted init step, or the user's own). Always exits 0: a missing agent means a cold start,
     * never a stuck pod.
     */
    static String waitScript(Injection inj, int timeout, List<Framework> frameworks) {
        if (inj.mode() == VolumeMode.EmptyDir) { // the agent publishes straight into the canonical folder
            String marker = inj.mountPath() + "/" + Injection.MARKER;
            return "t=0; while [ ! -f " + marker + " ] && [ $t -lt " + timeout + " ]; do sleep 1; t=$((t+1)); done; "
                    + "if [ -f " + marker + " ]; then echo \"mithril: cache view ready after ${t}s\"; "
                    + "else echo 'mithril: no cache view after " + timeout + "s; starting cold'; fi; exit 0";
        }
        String marker = inj.viewPath() + "/" + Injection.MARKER;
        StringBuilder dirs = new StringBuilder();
        for (Framework f : frameworks) {
            dirs.append(dirs.length() == 0 ? "" : " ").append(Injection.dir(f));
        }
        return "t=0; while [ ! -f " + marker + " ] && [ $t -lt " + timeout + " ]; do sleep 1; t=$((t+1)); done; "
                + "if [ -f " + marker + " ]; then for d in " + dirs + "; do "
                + "[ -e " + inj.mountPath() + "/$d ] || [ -L " + inj.mountPath() + "/$d ] || ln -s " + inj.viewPath() + "/$d "
                + inj.mountPath() + "/$d; done; echo \"mithril: cache view ready after ${t}s\"; "
                + "else echo 'mithril: no cache view after " + timeout + "s; starting cold'; fi; exit 0";
    }

    private Container waitContainer(CompileCacheSpec spec, List<Framework> frameworks) {
        int timeout = spec.getPublishTimeoutSeconds() == null ? 30 : spec.getPublishTimeoutSeconds();
        String script = waitScript(injection, timeout, frameworks);
        return new io.fabric8.kubernetes.api.model.ContainerBuilder()
                .withName(Injection.INIT_CONTAINER)
                .withImage(injection.waitImage())
                .withCommand("sh", "-c", script)
                .withEnv(hostPathMode() ? List.of(new EnvVarBuilder().withName(Injection.POD_UID_ENV).withNewValueFrom().withNewFieldRef()
                        .withFieldPath("metadata.uid").endFieldRef().endValueFrom().build()) : List.of())
                .withVolumeMounts(mounts(true))
                .withNewResources().addToRequests("cpu", new Quantity("10m")).addToRequests("memory", new Quantity("16Mi"))
                .addToLimits("memory", new Quantity("32Mi")).endResources()
                .withNewSecurityContext().withAllowPrivilegeEscalation(false).withRunAsNonRoot(true).withRunAsUser(65534L)
                .withNewCapabilities().withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().endSecurityContext()
                .build();
    }

    /** Whether any container, init container or ephemeral container mounts a volume of this name. */
    private static boolean mountsVolume(Pod pod, String volume) {
        List<List<VolumeMount>> all = new ArrayList<>();
        pod.getSpec().getContainers().forEach(c -> all.add(c.getVolumeMounts()));
        if (pod.getSpec().getInitContainers() != null) {
            pod.getSpec().getInitContainers().forEach(c -> all.add(c.getVolumeMounts()));
        }
        if (pod.getSpec().getEphemeralContainers() != null) {
            pod.getSpec().getEphemeralContainers().forEach(c -> all.add(c.getVolumeMounts()));
        }
        return all.stream().filter(Objects::nonNull).flatMap(List::stream).anyMatch(m -> volume.equals(m.getName()));
    }

    private static boolean has(List<EnvVar> env, String name) {
        return env.stream().anyMatch(e -> name.equals(e.getName()));
    }

    /** Label selector semantics (matchLabels and In, NotIn, Exists, DoesNotExist). */
    static boolean matches(LabelSelector sel, Map<String, String> labels) {
        if (sel.getMatchLabels() != null) {
            for (Map.Entry<String, String> e : sel.getMatchLabels().entrySet()) {
                if (!Objects.equals(labels.get(e.getKey()), e.getValue())) {
                    return false;
                }
            }
        }
        if (sel.getMatchExpressions() != null) {
            for (LabelSelectorRequirement r : sel.getMatchExpressions()) {
                String v = labels.get(r.getKey());
                List<String> values = r.getValues() == null ? List.of() : r.getValues();
                boolean ok = switch (r.getOperator()) {
                    case "In" -> v != null && values.contains(v);
                    case "NotIn" -> v == null || !values.contains(v);
                    case "Exists" -> labels.containsKey(r.getKey());
                    case "DoesNotExist" -> !labels.containsKey(r.getKey());
                    default -> false;
                };
                if (!ok) {
                    return false;
                }
            }
        }
        return true;
    }
}
