package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A compile cache Mithril can redirect into a node-local view: the table the webhook and the node agent
 * share. Per framework: its wire name (what the CRD's {@code frameworks} accepts and what the annotation
 * {@code mithril.io/injected-frameworks} lists for the node agent), the folder of a view its cache lives
 * in ({@link #dir()}), the one environment variable that redirects it ({@link #envVar()}), and the caches
 * it implies ({@link #implied()}). The order of declaration is the order they are listed in.
 *
 * <p>No cache variable other than these is ever set: vLLM hashes every {@code VLLM_*} variable into its
 * cache key, and Triton keys on some of its own.
 */
public enum Framework {
    /** PyTorch Inductor ({@code TORCHINDUCTOR_CACHE_DIR}): what a torch.compile hit needs. */
    Inductor("inductor", "TORCHINDUCTOR_CACHE_DIR"),
    /** Triton ({@code TRITON_CACHE_DIR}). */
    Triton("triton", "TRITON_CACHE_DIR"),
    /** vLLM ({@code VLLM_CACHE_ROOT}); brings Inductor and Triton ({@link #implied()}). */
    VLLM("vllm", "VLLM_CACHE_ROOT"),
    /** SGLang ({@code SGLANG_CACHE_DIR}); brings Inductor and Triton ({@link #implied()}). */
    SGLang("sglang", "SGLANG_CACHE_DIR"),
    /** FlashInfer's JIT workspace ({@code FLASHINFER_WORKSPACE_BASE}; it writes {@code .cache/flashinfer/} under it). */
    FlashInfer("flashinfer", "FLASHINFER_WORKSPACE_BASE"),
    /** The CUDA driver's PTX JIT cache ({@code CUDA_CACHE_PATH}). */
    CudaJIT("cuda", "CUDA_CACHE_PATH");

    private final String dir;
    private final String envVar;

    Framework(String dir, String envVar) {
        this.dir = dir;
        this.envVar = envVar;
    }

    /** The folder of a view this framework's cache lives in (the node agent's layout; lower case). */
    public String dir() {
        return dir;
    }

    /** The variable this framework is redirected by, never any other. */
    public String envVar() {
        return envVar;
    }

    /**
     * Where a pod's variable points, relative to the view's root: {@link #dir()}, except for CudaJIT.
     * The agent keeps the CUDA cache per driver version ({@code cuda/driver-<version>/}) and puts
     * {@code cuda/current}, a link to the node's driver's folder, into a pod's view; the webhook, which
     * cannot know the node's driver, points the variable at the link, so a pod only reads and writes
     * entries of the driver it runs on.
     */
    public String podPath() {
        return this == CudaJIT ? dir + "/current" : dir;
    }

    /** The framework whose {@link #wire()} name is {@code name}; null for none. */
    public static Framework ofWire(String name) {
        for (Framework f : values()) {
            if (f.name().equals(name)) {
                return f;
            }
        }
        return null;
    }

    @JsonValue
    public String wire() {
        return name();
    }

    /**
     * The caches this framework's processes also write, and so need for a warm start: vLLM's and SGLang's
     * own kernels are {@code @triton.jit} ({@code TRITON_CACHE_DIR}), and what they compile with
     * torch.compile outside their own backend (SGLang's {@code --enable-torch-compile}) goes to
     * {@code TORCHINDUCTOR_CACHE_DIR}.
     */
    public Set<Framework> implied() {
        return this == VLLM || this == SGLang ? EnumSet.of(Inductor, Triton) : EnumSet.noneOf(Framework.class);
    }

    /** The frameworks chosen and those they imply, each once, in declaration order. */
    public static List<Framework> withImplied(Collection<Framework> chosen) {
        Set<Framework> out = EnumSet.noneOf(Framework.class);
        for (Framework f : chosen) {
            out.add(f);
            out.addAll(f.implied());
        }
        return List.copyOf(out);
    }
}
