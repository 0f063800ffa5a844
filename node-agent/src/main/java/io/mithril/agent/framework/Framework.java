package io.mithril.agent.framework;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The compile caches Mithril redirects, each by one environment variable into its own folder of a
 * view. Never any other variable: vLLM hashes every {@code VLLM_*} variable into its cache key, and
 * Triton keys on some of its own.
 */
public enum Framework {
    INDUCTOR("inductor", "TORCHINDUCTOR_CACHE_DIR"),
    TRITON("triton", "TRITON_CACHE_DIR"),
    VLLM("vllm", "VLLM_CACHE_ROOT"),
    SGLANG("sglang", "SGLANG_CACHE_DIR"),
    CUDA("cuda", "CUDA_CACHE_PATH");

    private final String dir;
    private final String envVar;

    Framework(String dir, String envVar) {
        this.dir = dir;
        this.envVar = envVar;
    }

    /**
     * Whether the framework only ever puts whole files under their final names (write to a temporary
     * name, then rename): Inductor ({@code write_atomic}) and Triton ({@code FileCacheManager.put},
     * its group file written last). vLLM and SGLang rewrite their cache index in place, the CUDA
     * driver its {@code index}: a run that died mid-write can leave those torn.
     */
    public boolean atomicWrites() {
        return this == INDUCTOR || this == TRITON;
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

    /** Parses {@code inductor,triton,vllm}; {@code all} for every framework. */
    public static Set<Framework> parseList(String text) {
        Set<Framework> out = new LinkedHashSet<>();
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
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no frameworks given");
        }
        return out;
    }
}
