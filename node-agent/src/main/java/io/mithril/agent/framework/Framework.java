package io.mithril.agent.framework;

import io.mithril.api.v1alpha1.Defaults;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The compile caches Mithril redirects, each by one environment variable into its own folder of a
 * view (docs/frameworks.md): the agent's names for the rows of the table in api/
 * ({@link io.mithril.api.v1alpha1.Framework}), which says each one's folder, variable and implied
 * caches for the webhook and the agent alike. This enum stays the agent's own type (its lower-case
 * names are the CLI's {@code --frameworks} and the pod records' spelling) and holds nothing of its own.
 * (Besides the frameworks' variables, {@code exec} sets only {@code CUDA_CACHE_MAXSIZE}, which no
 * framework keys on.)
 *
 * <p>DeepGEMM has no variable of its own here: vLLM points it at {@code VLLM_CACHE_ROOT/deep_gemm}
 * and SGLang at {@code SGLANG_CACHE_DIR/deep_gemm}, so its kernels live in those folders.
 */
public enum Framework {
    INDUCTOR(io.mithril.api.v1alpha1.Framework.Inductor),
    TRITON(io.mithril.api.v1alpha1.Framework.Triton),
    VLLM(io.mithril.api.v1alpha1.Framework.VLLM),
    SGLANG(io.mithril.api.v1alpha1.Framework.SGLang),
    /** {@code $FLASHINFER_WORKSPACE_BASE/.cache/flashinfer/<archs>/cached_ops/<op>/}, built by ninja. */
    FLASHINFER(io.mithril.api.v1alpha1.Framework.FlashInfer),
    CUDA(io.mithril.api.v1alpha1.Framework.CudaJIT);

    private final io.mithril.api.v1alpha1.Framework api;

    Framework(io.mithril.api.v1alpha1.Framework api) {
        this.api = api;
    }

    /** The row of the shared table this is. */
    public io.mithril.api.v1alpha1.Framework api() {
        return api;
    }

    /** The agent's name for a row of the shared table. */
    public static Framework of(io.mithril.api.v1alpha1.Framework f) {
        for (Framework x : values()) {
            if (x.api == f) {
                return x;
            }
        }
        throw new IllegalArgumentException("no agent framework for " + f); // FrameworkContractTest: never
    }

    /** The caches this framework's processes also write to ({@link io.mithril.api.v1alpha1.Framework#implied()}). */
    public Set<Framework> implied() {
        Set<Framework> out = EnumSet.noneOf(Framework.class);
        for (io.mithril.api.v1alpha1.Framework f : api.implied()) {
            out.add(of(f));
        }
        return out;
    }

    /** The folder of a view this framework's cache lives in. */
    public String dir() {
        return api.dir();
    }

    public String envVar() {
        return api.envVar();
    }

    public static Framework ofDir(String dir) {
        for (Framework f : values()) {
            if (f.dir().equals(dir)) {
                return f;
            }
        }
        return null;
    }

    /** The default set ({@link io.mithril.api.v1alpha1.Defaults#FRAMEWORKS}): what plain {@code torch.compile} needs. */
    public static Set<Framework> defaults() {
        Set<Framework> out = new LinkedHashSet<>();
        for (io.mithril.api.v1alpha1.Framework f : Defaults.FRAMEWORKS) {
            out.add(of(f));
        }
        return out;
    }

    /**
     * The webhook's framework names (the CRD's, as {@code mithril.io/injected-frameworks} lists them) to
     * the agent's; unknown names are skipped. None known, or no annotation: {@link #defaults()}.
     */
    public static Set<Framework> ofWireList(String annotation) {
        Set<Framework> out = new LinkedHashSet<>();
        if (annotation != null) {
            for (String n : annotation.split(",")) {
                io.mithril.api.v1alpha1.Framework f = io.mithril.api.v1alpha1.Framework.ofWire(n.trim());
                if (f != null) {
                    out.add(of(f));
                }
            }
        }
        return out.isEmpty() ? defaults() : out;
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
                    names.add(x.dir());
                }
                throw new IllegalArgumentException(
                        "unknown framework '" + part.trim() + "' (known: " + String.join(", ", names) + ", all)");
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
