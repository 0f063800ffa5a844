package io.mithril.operator.webhook;

import io.mithril.api.v1alpha1.Framework;

/**
 * The fixed shape of what the webhook injects: names, paths and the per-framework variables. One
 * canonical mount path in every pod, because Triton and vLLM record absolute paths.
 */
public record Injection(String mountPath, String hostPath, String waitImage) {

    public static final String VOLUME = "mithril-cache";
    public static final String INIT_CONTAINER = "mithril-wait";
    public static final String POD_UID_ENV = "MITHRIL_POD_UID";
    public static final String MARKER = ".mithril-ready";
    public static final String ANNOTATION_INJECTED = "mithril.io/injected";
    public static final String ANNOTATION_CONTAINERS = "mithril.io/injected-containers";
    public static final String ANNOTATION_FRAMEWORKS = "mithril.io/injected-frameworks";
    public static final String GPU_RESOURCE = "nvidia.com/gpu";

    public static Injection defaults() {
        return new Injection("/var/cache/mithril", "/var/lib/mithril/volumes", "busybox:1.36");
    }

    /** The variable a framework is redirected by, never any other (vLLM hashes its VLLM_* variables). */
    public static String envVar(Framework f) {
        return switch (f) {
            case Inductor -> "TORCHINDUCTOR_CACHE_DIR";
            case Triton -> "TRITON_CACHE_DIR";
            case VLLM -> "VLLM_CACHE_ROOT";
            case SGLang -> "SGLANG_CACHE_DIR";
            case CudaJIT -> "CUDA_CACHE_PATH";
        };
    }

    /** The folder of the view the framework's cache lives in (the node agent's layout). */
    public static String dir(Framework f) {
        return switch (f) {
            case Inductor -> "inductor";
            case Triton -> "triton";
            case VLLM -> "vllm";
            case SGLang -> "sglang";
            case CudaJIT -> "cuda";
        };
    }
}
