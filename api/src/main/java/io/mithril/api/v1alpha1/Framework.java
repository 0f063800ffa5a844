package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * A compile cache Mithril can redirect into a node-local view. The wire names are what the CRD's
 * {@code frameworks} accepts and what the annotation {@code mithril.io/injected-frameworks} lists for the
 * node agent; the order of declaration is the order they are listed in.
 */
public enum Framework {
    /** PyTorch Inductor ({@code TORCHINDUCTOR_CACHE_DIR}): what a torch.compile hit needs. */
    Inductor,
    /** Triton ({@code TRITON_CACHE_DIR}). */
    Triton,
    /** vLLM ({@code VLLM_CACHE_ROOT}); brings Inductor and Triton ({@link #implied()}). */
    VLLM,
    /** SGLang ({@code SGLANG_CACHE_DIR}); brings Inductor and Triton ({@link #implied()}). */
    SGLang,
    /** FlashInfer's JIT workspace ({@code FLASHINFER_WORKSPACE_BASE}; it writes {@code .cache/flashinfer/} under it). */
    FlashInfer,
    /** The CUDA driver's PTX JIT cache ({@code CUDA_CACHE_PATH}). */
    CudaJIT;

    @JsonValue
    public String wire() {
        return name();
    }

    /**
     * The caches this framework's processes also write, and so need for a warm start: vLLM's and SGLang's
     * own kernels are {@code @triton.jit} ({@code TRITON_CACHE_DIR}), and what they compile with
     * torch.compile outside their own backend (SGLang's {@code --enable-torch-compile}) goes to
     * {@code TORCHINDUCTOR_CACHE_DIR}. The node agent's own list says the same.
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
