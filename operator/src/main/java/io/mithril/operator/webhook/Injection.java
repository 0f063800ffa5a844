package io.mithril.operator.webhook;

import io.mithril.api.v1alpha1.Framework;
import io.mithril.api.v1alpha1.Injected;

/**
 * The fixed shape of what the webhook injects: names, paths and the per-framework variables.
 *
 * <p>Two volumes, so that a pod is fail-open by construction, root or not:
 * <ul>
 *   <li>{@code mithril-cache}, an {@code emptyDir} at the canonical {@link #mountPath()} (one path in
 *       every pod, because Triton and vLLM record absolute paths). The cache variables point under it.
 *       Kubelet creates it world-writable, so any user can compile into it cold.</li>
 *   <li>{@code mithril-view}, the node's hostPath {@link #hostPath()} mounted at {@link #viewPath()}
 *       with {@code subPathExpr} on the pod UID: the agent publishes the pod's view there.</li>
 * </ul>
 * Each framework's variable and folder are its own ({@link Framework#envVar()}, {@link Framework#dir()},
 * {@link Framework#podPath()}): the table the node agent uses too.
 *
 * <p>The init step waits (bounded) for the agent's ready marker in the view; when it appears it links
 * each framework folder of the canonical path to the view's, else it leaves the canonical path as the
 * pod's private, empty cache. A hostPath subfolder that kubelet had to create itself (no agent) is
 * owned by root, so a non-root pod could not have written to the view directly.
 *
 * <p>In {@link VolumeMode#EmptyDir} mode only the emptyDir is mounted: the agent publishes into it
 * from the host, and the wait step only waits for the marker there.
 */
public record Injection(
        String mountPath,
        String viewPath,
        String hostPath,
        String waitImage,
        VolumeMode mode,
        WaitStep waitStep,
        PodSecurity podSecurity,
        String emptyDirSizeLimit) {

    public Injection(String mountPath, String viewPath, String hostPath, String waitImage) {
        this(mountPath, viewPath, hostPath, waitImage, VolumeMode.HostPath);
    }

    public Injection(String mountPath, String viewPath, String hostPath, String waitImage, VolumeMode mode) {
        this(mountPath, viewPath, hostPath, waitImage, mode, WaitStep.defaults(), PodSecurity.defaults(), null);
    }

    public Injection withMode(VolumeMode m) {
        return new Injection(mountPath, viewPath, hostPath, waitImage, m, waitStep, podSecurity, emptyDirSizeLimit);
    }

    public Injection withWaitStep(WaitStep w) {
        return new Injection(mountPath, viewPath, hostPath, waitImage, mode, w, podSecurity, emptyDirSizeLimit);
    }

    public Injection withPodSecurity(PodSecurity p) {
        return new Injection(mountPath, viewPath, hostPath, waitImage, mode, waitStep, p, emptyDirSizeLimit);
    }

    /** {@code sizeLimit} of the injected emptyDir in EmptyDir mode; null: twice the CompileCache's budget. */
    public Injection withEmptyDirSizeLimit(String limit) {
        return new Injection(mountPath, viewPath, hostPath, waitImage, mode, waitStep, podSecurity, limit);
    }

    public static final String VOLUME = "mithril-cache";
    public static final String VIEW_VOLUME = "mithril-view";
    public static final String INIT_CONTAINER = Injected.WAIT_CONTAINER;
    public static final String POD_UID_ENV = "MITHRIL_POD_UID";
    public static final String MARKER = Injected.READY_MARKER;
    public static final String ANNOTATION_INJECTED = Injected.ANNOTATION;
    public static final String ANNOTATION_CONTAINERS = Injected.ANNOTATION_CONTAINERS;
    public static final String ANNOTATION_FRAMEWORKS = Injected.ANNOTATION_FRAMEWORKS;
    /** How the view reaches the pod ({@link VolumeMode}); the agent reads it to find the pod's folder. */
    public static final String ANNOTATION_VOLUME = Injected.ANNOTATION_VOLUME;

    public static final String GPU_RESOURCE = "nvidia.com/gpu";
    /** Set with CudaJIT unless the container sets it: the driver evicts its cache beyond this size. */
    public static final String CUDA_MAXSIZE_ENV = "CUDA_CACHE_MAXSIZE";
    /** The driver's largest allowed value (4 GiB), so that the driver does not evict what Mithril serves. */
    public static final String CUDA_MAXSIZE = "4294967296";

    public static Injection defaults() {
        return new Injection("/var/cache/mithril", "/var/lib/mithril/view", "/var/lib/mithril/volumes", "busybox:1.36");
    }
}
