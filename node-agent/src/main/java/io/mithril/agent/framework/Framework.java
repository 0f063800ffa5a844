package io.mithril.agent.framework;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The compile caches Mithril redirects, each by one environment variable into its own folder of a
 * view (docs/frameworks.md). No cache variable other than these: vLLM hashes every {@code VLLM_*}
 * variable into its cache key, and Triton keys on some of its own. (Besides them, {@code exec} sets
 * only {@code CUDA_CACHE_MAXSIZE}, which no framework keys on.)
 *
 * <p>DeepGEMM has no variable of its own here: vLLM points it at {@code VLLM_CACHE_ROOT/deep_gemm}
 * and SGLang at {@code SGLANG_CACHE_DIR/deep_gemm}, so its kernels live in those folders.
 */
public enum Framework {
    INDUCTOR("inductor", "TORCHINDUCTOR_CACHE_DIR"),
    TRITON("triton", "TRITON_CACHE_DIR"),
    VLLM("vllm", "VLLM_CACHE_ROOT"),
    SGLANG("sglang", "SGLANG_CACHE_DIR"),
    /** {@code $FLASHINFER_WORKSPACE_BASE/.cache/flashinfer/<archs>/cached_ops/<op>/}, built by ninja. */
    FLASHINFER("flashinfer", "FLASHINFER_WORKSPACE_BASE"),
    CUDA("cuda", "CUDA_CACHE_PATH");

    private final String dir;
    private final String envVar;

    Framework(String dir, String envVar) {
        this.dir = dir;
        this.envVar = envVar;
    }

    /**
     * The caches this framework's processes also write to, which are then needed for a warm start:
     * vLLM's and SGLang's own kernels are {@code @triton.jit} (into {@code TRITON_CACHE_DIR}), and
     * what they compile outside their piecewise backend goes to {@code TORCHINDUCTOR_CACHE_DIR}.
     */
    public Set<Framework> implied() {
        return this == VLLM || this == SGLANG ? EnumSet.of(INDUCTOR, TRITON) : EnumSet.noneOf(Framework.class);
    }

    /** The folder of a view this framework's cache lives in. */
    public String dir() {
        return dir;
    }

    public String envVar() {
        return envVar;
    }

    public static Framework ofDir(String dir) {
        for (Framework f : values()) {
            if (f.dir.equals(dir)) {
                return f;
            }
        }
        return null;
    }

    /** The default set: Inductor and Triton, what plain {@code torch.compile} needs. */
    public static Set<Framework> defaults() {
        return new LinkedHashSet<>(List.of(INDUCTOR, TRITON));
    }

    /**
     * Parses {@code inductor,triton,vllm}; {@code all} for every framework. The caches a named one
     * implies ({@link #implied()}) come with it; the result is in declaration order.
     */
    public static Set<Framework> parseList(String text) {
        Set<Framework> out = EnumSet.noneOf(Framework.class);
        for (String part : text.split(",")) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            if (p.isEmpty()) {
                continue;
            }
            if (p.equals("all")) {
                out.addAll(List.of(values()));
                continue;
            }
            Framework f = ofDir(p);
            if (f == null) {
                List<String> names = new ArrayList<>();
                for (Framework x : values()) {
                    names.add(x.dir);
                }
                throw new IllegalArgumentException("unknown framework '" + part.trim() + "' (known: " + String.join(", ", names) + ", all)");
            }
            out.add(f);
            out.addAll(f.implied());
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no frameworks given");
        }
        return new LinkedHashSet<>(out);
    }
}
