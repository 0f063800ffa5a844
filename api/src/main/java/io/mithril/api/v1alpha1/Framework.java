package io.mithril.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonValue;

/** A compile cache Mithril can redirect into a node-local view. */
public enum Framework {
    /** PyTorch Inductor ({@code TORCHINDUCTOR_CACHE_DIR}): what a torch.compile hit needs. */
    Inductor,
    /** Triton ({@code TRITON_CACHE_DIR}). */
    Triton,
    /** vLLM ({@code VLLM_CACHE_ROOT}); vLLM points Inductor and Triton under it. */
    VLLM,
    /** SGLang ({@code SGLANG_CACHE_DIR}). */
    SGLang,
    /** The CUDA driver's PTX JIT cache ({@code CUDA_CACHE_PATH}). */
    CudaJIT;

    @JsonValue
    public String wire() {
        return name();
    }
}
