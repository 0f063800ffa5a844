package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.ContainerScope;
import io.mithril.api.v1alpha1.Defaults;
import io.mithril.api.v1alpha1.Framework;
import io.mithril.api.v1alpha1.Sizes;
import io.mithril.operator.reconciler.SpecCheck;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
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
 * and of those they imply ({@link Framework#withImplied}) under one canonical mount path (an emptyDir),
 * with {@code CUDA_CACHE_MAXSIZE} for CudaJIT; the node's view (hostPath, {@code subPathExpr} on the
 * pod UID from the downward API, {@code MITHRIL_POD_UID}); {@code USER} when the container sets
 * neither {@code USER} nor {@code LOGNAME} (torch before 2.13 crashes at import without a passwd entry
 * or one of them). For the pod: both volumes, an init step that waits for the agent's ready marker,
 * links the view in, and gives up after the CompileCache's timeout (fail-open), and annotations
 * recording what was done. See {@link Injection} for why two volumes.
 *
 * <p>What a container sets itself is its {@code env} and its {@code envFrom}: ConfigMaps are read through
 * a {@link ConfigMapLookup} (a variable one provides counts as set, as in {@code env}); Secrets are never
 * read. Where a source cannot be read (a Secret, a ConfigMap that is forbidden, not there or not answered
 * in time) and its prefix could produce a variable the webhook injects, the injected {@code env} overrides
 * it, and a warning names the source and the variables.
 */
public final class PodMutator {

    public record Result(Pod pod, List<String> warnings) {}

    private final Injection injection;

    public PodMutator(Injection injection) {
        this.injection = injection;
    }

    public Result mutate(Pod pod, List<CompileCache> cachesInNamespace) {
        return mutate(pod, cachesInNamespace, NamespacePolicy.NONE);
    }

    /**
     * As {@link #mutate(Pod, List)}, within what the pod's namespace enforces: in HostPath mode a namespace
     * whose Pod Security level forbids hostPath gets {@link PodSecurity#fallback()}; the wait step is
     * sized by {@link WaitStep#resourcesFor} so that the QoS class stays; and a pod the namespace's
     * LimitRanges or ResourceQuotas would admit unchanged but not injected is left unchanged.
     */
    public Result mutate(Pod pod, List<CompileCache> cachesInNamespace, NamespacePolicy ns) {
        return mutate(pod, cachesInNamespace, ns, ConfigMapLookup.NONE);
    }

    /**
     * As {@link #mutate(Pod, List, NamespacePolicy)}, with the ConfigMaps the target containers' {@code envFrom}
     * name read through {@code configMaps} (each at most once; none when nothing is injected).
     */
    public Result mutate(
            Pod pod, List<CompileCache> cachesInNamespace, NamespacePolicy ns, ConfigMapLookup configMaps) {
        Map<String, String> ann = pod.getMetadata() == null || pod.getMetadata().getAnnotations() == null
                ? Map.of()
                : pod.getMetadata().getAnnotations();
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
        List<String> invalid = SpecCheck.problems(spec);
        if (!invalid.isEmpty()) {
            // the operator marks it InvalidSpec; a cache it would not run must not be used either
            warnings.add("mithril: CompileCache " + cc.getMetadata().getName() + " is invalid ("
                    + String.join("; ", invalid) + "); no cache injected");
            return new Result(pod, warnings);
        }
        Map<String, String> labels = pod.getMetadata().getLabels() == null
                ? Map.of()
                : pod.getMetadata().getLabels();
        if (spec.getPodSelector() != null && !matches(spec.getPodSelector(), labels)) {
            warnings.add("mithril: pod does not match the podSelector of CompileCache "
                    + cc.getMetadata().getName() + "; no cache injected");
            return new Result(pod, warnings);
        }
        if (hostPathMode() && !injection.podSecurity().admitsHostPath(ns.podSecurityEnforce())) {
            String level = ns.podSecurityEnforce() == null
                    ? injection.podSecurity().defaultLevel() + " (the cluster default)"
                    : PodSecurity.level(ns.podSecurityEnforce());
            if (injection.podSecurity().fallback() == PodSecurity.Fallback.Skip) {
                warnings.add("mithril: the namespace's Pod Security level " + level
                        + " forbids the hostPath view; no cache injected");
                return new Result(pod, warnings);
            }
            warnings.add("mithril: the namespace's Pod Security level " + level
                    + " forbids hostPath; cache injected in EmptyDir mode");
            return new PodMutator(injection.withMode(VolumeMode.EmptyDir))
                    .inject(pod, ann, cc, spec, ns, configMaps, warnings);
        }
        return inject(pod, ann, cc, spec, ns, configMaps, warnings);
    }

    private Result inject(
            Pod pod,
            Map<String, String> ann,
            CompileCache cc,
            CompileCacheSpec spec,
            NamespacePolicy ns,
            ConfigMapLookup configMaps,
            List<String> warnings) {
        for (String name : volumeNames()) {
            if (pod.getSpec().getVolumes() != null
                    && pod.getSpec().getVolumes().stream().anyMatch(v -> name.equals(v.getName()))) {
                warnings.add("mithril: the pod already has a volume named " + name + "; no cache injected");
                return new Result(pod, warnings);
            }
            // a mount of a volume the pod does not declare is only valid once we add it: the node's views
            if (mountsVolume(pod, name)) {
                warnings.add("mithril: a container of the pod mounts a volume named " + name
                        + " that only the webhook adds; " + "no cache injected");
                return new Result(pod, warnings);
            }
        }
        List<Framework> frameworks = Framework.withImplied(
                spec.getFrameworks() == null || spec.getFrameworks().isEmpty()
                        ? Defaults.FRAMEWORKS
                        : spec.getFrameworks());
        Pod out = new PodBuilder(pod).build(); // a deep copy: the input stays untouched
        List<Container> targets = targets(out.getSpec().getContainers(), spec, warnings);
        List<String> injected = new ArrayList<>();
        // the CompileCache was looked up in the pod's namespace; a pod as sent may not name it itself
        String namespace = pod.getMetadata().getNamespace() != null
                ? pod.getMetadata().getNamespace()
                : cc.getMetadata().getNamespace();
        Map<String, ConfigMapLookup.Result> read = new HashMap<>();
        ConfigMapLookup once = (n, name) -> read.computeIfAbsent(name, x -> configMaps.get(n, x));
        for (Container c : targets) {
            if (inject(c, frameworks, UserEnv.of(c, namespace, once), warnings)) {
                injected.add(c.getName());
            }
        }
        if (injected.isEmpty()) {
            return new Result(pod, warnings);
        }
        out.getSpec()
                .getVolumes()
                .add(new VolumeBuilder()
                        .withName(Injection.VOLUME)
                        .withNewEmptyDir()
                        .withSizeLimit(hostPathMode() ? null : emptyDirSizeLimit(spec))
                        .endEmptyDir()
                        .build());
        if (hostPathMode()) {
            out.getSpec()
                    .getVolumes()
                    .add(new VolumeBuilder()
                            .withName(Injection.VIEW_VOLUME)
                            .withNewHostPath()
                            .withPath(injection.hostPath())
                            .withType("DirectoryOrCreate")
                            .endHostPath()
                            .build());
        }
        out.getSpec().getInitContainers().add(0, waitContainer(spec, frameworks, pod.getSpec(), targets, ns));
        for (String secret : injection.waitStep().pullSecrets()) {
            if (out.getSpec().getImagePullSecrets().stream().noneMatch(r -> secret.equals(r.getName()))) {
                out.getSpec().getImagePullSecrets().add(new LocalObjectReference(secret));
            }
        }
        String refused = refusedByNamespace(pod.getSpec(), out.getSpec(), ns);
        if (refused != null) {
            warnings.add("mithril: " + refused + "; no cache injected");
            return new Result(pod, warnings);
        }
        Map<String, String> newAnn = new LinkedHashMap<>(ann);
        newAnn.put(Injection.ANNOTATION_INJECTED, cc.getMetadata().getName());
        newAnn.put(Injection.ANNOTATION_CONTAINERS, String.join(",", injected));
        newAnn.put(
                Injection.ANNOTATION_FRAMEWORKS,
                String.join(",", frameworks.stream().map(Framework::name).toList()));
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
                List<Container> out = containers.stream()
                        .filter(c -> names.contains(c.getName()))
                        .toList();
                if (out.size() < names.size()) {
                    warnings.add("mithril: some containers named by the CompileCache are not in this pod");
                }
                return out;
            }
            default: {
                List<Container> gpu =
                        containers.stream().filter(PodMutator::requestsGpu).toList();
                return gpu.isEmpty() ? containers : gpu;
            }
        }
    }

    static boolean requestsGpu(Container c) {
        if (c.getResources() == null) {
            return false;
        }
        for (Map<String, Quantity> m : new ArrayList<>(
                Arrays.asList(c.getResources().getLimits(), c.getResources().getRequests()))) {
            if (m != null && m.containsKey(Injection.GPU_RESOURCE)) {
                return true;
            }
        }
        return false;
    }

    /** Adds mount and variables to one container; false (with a warning) when the user's own mount is in the way. */
    private boolean inject(Container c, List<Framework> frameworks, UserEnv user, List<String> warnings) {
        List<VolumeMount> mounts = c.getVolumeMounts();
        for (String path : hostPathMode()
                ? List.of(injection.mountPath(), injection.viewPath())
                : List.of(injection.mountPath())) {
            if (mounts.stream().anyMatch(m -> samePath(path, m.getMountPath()))) {
                warnings.add("mithril: container " + c.getName() + " already mounts " + path
                        + "; left as is (no cache for it)");
                return false;
            }
        }
        List<EnvVar> env = c.getEnv();
        if (hostPathMode() && user.sets(Injection.POD_UID_ENV)) {
            // the view's subPathExpr resolves through it: a value of the user's could mount another pod's view
            warnings.add("mithril: container " + c.getName() + " sets " + Injection.POD_UID_ENV
                    + user.where(Injection.POD_UID_ENV) + "; no cache for it");
            return false;
        }
        List<String> added = new ArrayList<>();
        if (hostPathMode()) {
            env.add(
                    0,
                    new EnvVarBuilder()
                            .withName(Injection.POD_UID_ENV)
                            .withNewValueFrom()
                            .withNewFieldRef()
                            .withFieldPath("metadata.uid")
                            .endFieldRef()
                            .endValueFrom()
                            .build());
            added.add(Injection.POD_UID_ENV);
        }
        for (Framework f : frameworks) {
            String name = f.envVar();
            if (user.sets(name)) {
                warnings.add("mithril: container " + c.getName() + " sets " + name + user.where(name)
                        + "; left as is (that cache is not shared)");
                continue;
            }
            env.add(new EnvVar(name, injection.mountPath() + "/" + f.podPath(), null));
            added.add(name);
        }
        if (frameworks.contains(Framework.CudaJIT) && !user.sets(Injection.CUDA_MAXSIZE_ENV)) {
            env.add(new EnvVar(Injection.CUDA_MAXSIZE_ENV, Injection.CUDA_MAXSIZE, null));
            added.add(Injection.CUDA_MAXSIZE_ENV);
        }
        if (!user.sets("USER") && !user.sets("LOGNAME")) {
            env.add(new EnvVar("USER", "mithril", null));
            added.add("USER");
        }
        for (UserEnv.Unread u : user.unread()) {
            List<String> over =
                    added.stream().filter(n -> n.startsWith(u.prefix())).toList();
            if (!over.isEmpty()) {
                warnings.add(
                        "mithril: container " + c.getName() + ": the injected " + String.join(", ", over) + " override"
                                + (over.size() == 1 ? "s" : "") + " whatever " + u.source() + " (envFrom"
                                + (u.prefix().isEmpty() ? "" : ", prefix " + u.prefix()) + ") sets for "
                                + (over.size() == 1 ? "it" : "them") + ": " + u.why());
            }
        }
        mounts.addAll(mounts(false));
        return true;
    }

    /**
     * The variables a container sets itself: its {@code env}, and the keys of the ConfigMaps of its
     * {@code envFrom} that could be read (with their prefix); and the sources that could not be read.
     */
    record UserEnv(Map<String, String> set, List<Unread> unread) {

        /** A source of {@code envFrom} whose variables are unknown: those starting with {@code prefix} may be set. */
        record Unread(String source, String prefix, String why) {}

        static UserEnv of(Container c, String namespace, ConfigMapLookup configMaps) {
            Map<String, String> set = new HashMap<>();
            c.getEnv().forEach(e -> set.put(e.getName(), ""));
            List<Unread> unread = new ArrayList<>();
            for (EnvFromSource from : c.getEnvFrom() == null ? List.<EnvFromSource>of() : c.getEnvFrom()) {
                String prefix = from.getPrefix() == null ? "" : from.getPrefix();
                if (from.getSecretRef() != null) {
                    unread.add(new Unread("Secret " + from.getSecretRef().getName(), prefix, "Secrets are not read"));
                } else if (from.getConfigMapRef() != null
                        && from.getConfigMapRef().getName() != null) {
                    String name = from.getConfigMapRef().getName();
                    ConfigMapLookup.Result r = configMaps.get(namespace, name);
                    if (r instanceof ConfigMapLookup.Found found) {
                        found.data()
                                .keySet()
                                .forEach(k ->
                                        set.putIfAbsent(prefix + k, " (from ConfigMap " + name + " through envFrom)"));
                    } else if (r instanceof ConfigMapLookup.Unreadable u) {
                        unread.add(new Unread("ConfigMap " + name, prefix, "it could not be read (" + u.why() + ")"));
                    } else if (!Boolean.TRUE.equals(from.getConfigMapRef().getOptional())) {
                        unread.add(new Unread("ConfigMap " + name, prefix, "it does not exist (the pod waits for it)"));
                    }
                }
            }
            return new UserEnv(set, unread);
        }

        boolean sets(String name) {
            return set.containsKey(name);
        }

        /** Where the user sets it, for a warning: nothing for {@code env}. */
        String where(String name) {
            return set.getOrDefault(name, "");
        }
    }

    private boolean hostPathMode() {
        return injection.mode() == VolumeMode.HostPath;
    }

    private List<String> volumeNames() {
        return hostPathMode() ? List.of(Injection.VOLUME, Injection.VIEW_VOLUME) : List.of(Injection.VOLUME);
    }

    private List<VolumeMount> mounts(boolean init) {
        if (!hostPathMode()) {
            return List.of(new VolumeMountBuilder()
                    .withName(Injection.VOLUME)
                    .withMountPath(injection.mountPath())
                    .build());
        }
        return List.of(
                new VolumeMountBuilder()
                        .withName(Injection.VOLUME)
                        .withMountPath(injection.mountPath())
                        .build(),
                new VolumeMountBuilder()
                        .withName(Injection.VIEW_VOLUME)
                        .withMountPath(injection.viewPath())
                        .withSubPathExpr("$(" + Injection.POD_UID_ENV + ")")
                        .withReadOnly(init ? Boolean.TRUE : null)
                        .build());
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
            dirs.append(dirs.length() == 0 ? "" : " ").append(f.dir());
        }
        return "t=0; while [ ! -f " + marker + " ] && [ $t -lt " + timeout + " ]; do sleep 1; t=$((t+1)); done; "
                + "if [ -f " + marker + " ]; then for d in " + dirs + "; do "
                + "[ -e " + inj.mountPath() + "/$d ] || [ -L " + inj.mountPath() + "/$d ] || ln -s " + inj.viewPath()
                + "/$d "
                + inj.mountPath() + "/$d; done; echo \"mithril: cache view ready after ${t}s\"; "
                + "else echo 'mithril: no cache view after " + timeout + "s; starting cold'; fi; exit 0";
    }

    private Container waitContainer(
            CompileCacheSpec spec,
            List<Framework> frameworks,
            PodSpec admitted,
            List<Container> targets,
            NamespacePolicy ns) {
        int timeout = spec.getPublishTimeoutSeconds() == null
                ? Defaults.PUBLISH_TIMEOUT_SECONDS
                : spec.getPublishTimeoutSeconds();
        String script = waitScript(injection, timeout, frameworks);
        return new ContainerBuilder()
                .withName(Injection.INIT_CONTAINER)
                .withImage(injection.waitImage())
                .withCommand("sh", "-c", script)
                .withEnv(
                        hostPathMode()
                                ? List.of(new EnvVarBuilder()
                                        .withName(Injection.POD_UID_ENV)
                                        .withNewValueFrom()
                                        .withNewFieldRef()
                                        .withFieldPath("metadata.uid")
                                        .endFieldRef()
                                        .endValueFrom()
                                        .build())
                                : List.of())
                .withVolumeMounts(mounts(true))
                .withResources(injection.waitStep().resourcesFor(admitted, ns.limitRanges()))
                .withSecurityContext(waitSecurityContext(admitted, targets))
                .build();
    }

    /**
     * The wait step runs as the pod's user: the injected container's own {@code runAsUser}/{@code runAsGroup}
     * when it sets them, else the pod's (inherited, so not repeated). Where neither says, it leaves the uid to
     * the image (or to OpenShift's SCC) unless {@link WaitStep#runAsUser()} names one, and requires non-root.
     * A pod that runs as root gets a wait step as root. Always: no capabilities, no privilege escalation,
     * RuntimeDefault seccomp, as the restricted Pod Security profile asks.
     */
    private SecurityContext waitSecurityContext(PodSpec admitted, List<Container> targets) {
        PodSecurityContext podSc = admitted.getSecurityContext();
        SecurityContext first = targets.isEmpty() ? null : targets.get(0).getSecurityContext();
        Long ctrUser = first == null ? null : first.getRunAsUser();
        Long podUser = podSc == null ? null : podSc.getRunAsUser();
        Long user = ctrUser != null ? ctrUser : podUser;
        SecurityContextBuilder b = new SecurityContextBuilder()
                .withAllowPrivilegeEscalation(false)
                .withNewCapabilities()
                .withDrop("ALL")
                .endCapabilities()
                .withNewSeccompProfile()
                .withType("RuntimeDefault")
                .endSeccompProfile();
        if (user == null) {
            b.withRunAsNonRoot(true).withRunAsUser(injection.waitStep().runAsUser());
        } else {
            b.withRunAsNonRoot(user == 0 ? null : Boolean.TRUE).withRunAsUser(ctrUser);
        }
        if (first != null && first.getRunAsGroup() != null) {
            b.withRunAsGroup(first.getRunAsGroup());
        }
        return b.build();
    }

    /** Twice the CompileCache's budget (its view, and as much again for what the pod compiles), unless configured. */
    private Quantity emptyDirSizeLimit(CompileCacheSpec spec) {
        if (injection.emptyDirSizeLimit() != null
                && !injection.emptyDirSizeLimit().isBlank()) {
            return new Quantity(injection.emptyDirSizeLimit());
        }
        BigDecimal budget = BigDecimal.valueOf(Sizes.budgetOf(spec));
        return WaitStep.quantity("memory", budget.multiply(BigDecimal.valueOf(2)));
    }

    /**
     * Why the namespace would reject the injected pod although it admits the pod as sent, or null: a
     * changed QoS class, or a LimitRange or ResourceQuota the wait step breaks (by construction it should
     * not; this checks that it did not).
     */
    static String refusedByNamespace(PodSpec admitted, PodSpec injected, NamespacePolicy ns) {
        PodResources.QosClass before = PodResources.qos(admitted);
        PodResources.QosClass after = PodResources.qos(injected);
        if (before != after) {
            return "the wait step would turn the pod from " + before + " into " + after;
        }
        List<String> was = new ArrayList<>(PodResources.limitRangeProblems(admitted, ns.limitRanges()));
        was.addAll(PodResources.quotaProblems(admitted, ns.quotas()));
        if (!was.isEmpty()) {
            return null; // rejected either way, for the user's own reasons
        }
        List<String> now = new ArrayList<>(PodResources.limitRangeProblems(injected, ns.limitRanges()));
        now.addAll(PodResources.quotaProblems(injected, ns.quotas()));
        return now.isEmpty()
                ? null
                : "the namespace would reject the pod with the wait step (" + String.join("; ", now) + ")";
    }

    /** Whether two mount paths name the same folder ({@code /var/cache/mithril/}, {@code /var/cache//mithril/.}). */
    static boolean samePath(String a, String b) {
        if (a == null || b == null) {
            return false;
        }
        return Path.of(a).normalize().equals(Path.of(b).normalize());
    }

    /**
     * Why an update of the pod's ephemeral containers ({@code kubectl debug}) must be refused, or null.
     * One that mounts {@code mithril-view} would see the node's whole views folder: a mount without the
     * {@code subPathExpr}, or one with its own {@code MITHRIL_POD_UID}, reaches every pod's view. Nothing
     * an ephemeral container needs comes from it, so any mount of it is refused.
     */
    static String ephemeralContainerRefusal(Pod pod) {
        if (pod.getSpec() == null || pod.getSpec().getEphemeralContainers() == null) {
            return null;
        }
        for (var c : pod.getSpec().getEphemeralContainers()) {
            if (c.getVolumeMounts() != null
                    && c.getVolumeMounts().stream().anyMatch(m -> Injection.VIEW_VOLUME.equals(m.getName()))) {
                return "mithril: ephemeral container " + c.getName() + " may not mount " + Injection.VIEW_VOLUME
                        + " (it holds the node's views of every pod); debug without that mount";
            }
        }
        return null;
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
