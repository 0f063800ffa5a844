package io.mithril.agent.framework;

import java.util.regex.Pattern;

/**
 * Maps a file of a view (its path relative to the view, starting with the framework's folder) to the
 * entry it belongs to: the unit that is ingested, used and evicted whole. Each rule follows how the
 * framework writes and reads its cache; docs/frameworks.md gives the upstream source of each.
 *
 * <table>
 *   <tr><th>framework</th><th>path</th><th>entry</th></tr>
 *   <tr><td>Inductor</td><td>{@code fxgraph/<xx>/<key>/*}, {@code aotautograd/<key>/*}</td><td>the key folder</td></tr>
 *   <tr><td></td><td>{@code triton/<dev>/<key>/*} (Triton inside Inductor)</td><td>the kernel folder</td></tr>
 *   <tr><td></td><td>{@code <xx>/<hash>.best_config}, {@code cache/<sha>}, {@code dynamo/*}</td><td>the file, mutable</td></tr>
 *   <tr><td></td><td>{@code locks/*}</td><td>never ingested</td></tr>
 *   <tr><td>Triton</td><td>{@code <key>/*}</td><td>the kernel, launcher or autotune folder</td></tr>
 *   <tr><td>vLLM, SGLang</td><td>{@code torch_compile_cache/<hash>/rank_<r>_<dp>/**} (JIT)</td><td>the rank folder</td></tr>
 *   <tr><td></td><td>{@code torch_compile_cache/torch_aot_compile/<sha256>/rank_<r>_<dp>/**} (AOT)</td><td>the rank folder</td></tr>
 *   <tr><td></td><td>{@code torch_compile_cache/torch_aot_compile/<sha256>/inductor_cache/**}</td><td>as Inductor</td></tr>
 *   <tr><td></td><td>{@code deep_gemm/cache/kernel.<name>.<hash>/*} (DeepGEMM)</td><td>the kernel folder</td></tr>
 *   <tr><td></td><td>SGLang's {@code computation_graph_<time>.py}, DeepGEMM's {@code deep_gemm/tmp/**}</td><td>never ingested</td></tr>
 *   <tr><td>FlashInfer</td><td>{@code .cache/flashinfer/<archs>/cached_ops/<op>/**}, {@code …/generated/<op>/**}</td><td>the op folder, ninja's files included</td></tr>
 *   <tr><td>CUDA JIT</td><td>{@code driver-<version>/index} (or {@code index})</td><td>the file, mutable</td></tr>
 *   <tr><td>any</td><td>anything else</td><td>the file itself</td></tr>
 * </table>
 * Temp and lock files are never entries: dot-files (Inductor's {@code .<pid>.<tid>.tmp}), Triton's
 * {@code tmp.pid_*} folders, {@code *.tmp}, {@code *.lock}, {@code *.lck}, {@code *.partial}; except
 * FlashInfer's {@code .cache} folder and ninja's {@code .ninja_log} and {@code .ninja_deps}, without
 * which ninja rebuilds everything.
 */
public final class EntryRules {

    /** How the framework puts a unit's files on disk: what a run that then failed may have left. */
    public enum Writes {
        /** Every file written under a temporary name and renamed into place (or the whole folder). */
        ATOMIC,
        /** As {@link #ATOMIC}, and the folder is whole only when its group file names what it has ({@link Completeness}). */
        TRITON_GROUP,
        /** Files written or rewritten in place: a run that died may have left one torn. */
        IN_PLACE
    }

    /** What a file is part of. {@code entryName} ends with '/' for folder entries. */
    public record Unit(Framework framework, String entryName, String pathInEntry, boolean mutable, Writes writes) {
        public boolean folder() {
            return entryName.endsWith("/");
        }

        /** Whether a file of this unit at its final name is whole even if its run then failed. */
        public boolean atomic() {
            return writes != Writes.IN_PLACE;
        }

        /** A Triton kernel folder, to be checked by {@link Completeness#tritonFolder} before it is taken. */
        public boolean tritonFolder() {
            return writes == Writes.TRITON_GROUP && folder();
        }
    }

    private static final Pattern TWO = Pattern.compile("[0-9a-z]{2}");
    private static final Pattern RANK = Pattern.compile("rank_\\d+_\\d+");
    /** SGLang's debug dump of the split graph, a new name at every start and never read back. */
    private static final Pattern SGLANG_GRAPH_DUMP = Pattern.compile("computation_graph_[0-9.]+\\.py");

    private EntryRules() {}

    /** True for names that are in flight or locks, at any depth: never ingested. */
    public static boolean isTransient(String segment) {
        return segment.startsWith(".")
                || segment.startsWith("tmp.pid_")
                || segment.endsWith(".tmp")
                || segment.endsWith(".lock")
                || segment.endsWith(".lck")
                || segment.endsWith(".partial");
    }

    /**
     * Whether a folder of a view (path relative to the view) holds nothing that is ever ingested,
     * so a walk can skip it: a transient name, unless the framework needs it.
     */
    public static boolean skipsFolder(String viewPath) {
        String[] p = viewPath.split("/");
        int last = p.length - 1;
        return isTransient(p[last]) && !kept(Framework.ofDir(p[0]), p, last);
    }

    /** Dot-names a framework reads back: FlashInfer's {@code .cache} folder, ninja's log and deps. */
    private static boolean kept(Framework fw, String[] p, int i) {
        return fw == Framework.FLASHINFER
                && (i == 1 && p[1].equals(".cache") || p[i].equals(".ninja_log") || p[i].equals(".ninja_deps"));
    }

    /**
     * Files a framework rewrites in place inside an otherwise immutable unit: vLLM's and SGLang's
     * compile-cache index ({@code vllm_compile_cache.py}, {@code sglang_compile_cache.py}, rewritten
     * when a new shape compiles). They are always private copies in a view, never links to a blob.
     */
    public static boolean rewrittenInPlace(String viewPath) {
        String name = viewPath.substring(viewPath.lastIndexOf('/') + 1);
        return name.equals("vllm_compile_cache.py") || name.equals("sglang_compile_cache.py");
    }

    /**
     * Files whose modification time the framework compares: ninja's (FlashInfer) outputs against
     * their inputs and its log. They are private copies in a view, with the times of
     * {@link NinjaLog#publishTimes}.
     */
    public static boolean keepsTimes(String viewPath) {
        return viewPath.startsWith(Framework.FLASHINFER.dir() + "/");
    }

    /**
     * Classifies a view-relative path such as {@code inductor/fxgraph/ab/fabc/entry}. Returns null
     * for files that are never ingested (transient names, lock folders, unknown framework folders).
     */
    public static Unit classify(String viewPath) {
        String[] p = viewPath.split("/");
        if (p.length < 2) {
            return null; // files at the top of a view belong to no framework
        }
        Framework fw = Framework.ofDir(p[0]);
        if (fw == null) {
            return null;
        }
        for (int i = 1; i < p.length; i++) {
            if (isTransient(p[i]) && !kept(fw, p, i)) {
                return null;
            }
        }
        return switch (fw) {
            case INDUCTOR -> inductor(fw, p, 1);
            case TRITON -> folderAt(fw, p, 2, Writes.TRITON_GROUP);
            case VLLM, SGLANG -> server(fw, p);
            case FLASHINFER -> flashinfer(fw, p);
            case CUDA -> cuda(fw, p);
        };
    }

    /** An Inductor cache whose root is at segment {@code b} (its own folder, or vLLM's {@code inductor_cache/}). */
    private static Unit inductor(Framework fw, String[] p, int b) {
        String first = p[b];
        if (first.equals("locks")) {
            return null;
        }
        if (first.equals("fxgraph") && p.length >= b + 4) {
            return folderAt(fw, p, b + 3, Writes.ATOMIC);
        }
        if (first.equals("aotautograd") && p.length >= b + 3) {
            return folderAt(fw, p, b + 2, Writes.ATOMIC);
        }
        if (first.equals("triton") && p.length >= b + 4) {
            return folderAt(fw, p, b + 3, Writes.TRITON_GROUP);
        }
        if (first.equals("cache") || first.equals("dynamo")) {
            return file(fw, p, true, Writes.ATOMIC);
        }
        if (p.length == b + 2 && TWO.matcher(first).matches()) {
            return file(fw, p, p[b + 1].endsWith(".best_config"), Writes.ATOMIC);
        }
        return file(fw, p, false, Writes.ATOMIC);
    }

    /** vLLM's {@code VLLM_CACHE_ROOT} and SGLang's {@code SGLANG_CACHE_DIR}. */
    private static Unit server(Framework fw, String[] p) {
        if (fw == Framework.SGLANG && SGLANG_GRAPH_DUMP.matcher(p[p.length - 1]).matches()) {
            return null;
        }
        if (p[1].equals("torch_compile_cache") && p.length >= 4) {
            if (p[2].equals("torch_aot_compile")) {
                return aot(fw, p, 3);
            }
            // JIT: <hash>/rank_<r>_<dp>/<prefix>/..., each rank written by its own process
            return folderAt(fw, p, RANK.matcher(p[3]).matches() ? 4 : 3, Writes.IN_PLACE);
        }
        if (p[1].equals("torch_aot_compile") && p.length >= 3) {
            return aot(fw, p, 2); // vLLM before the AOT folder moved under torch_compile_cache/
        }
        if (p[1].equals("deep_gemm") && p.length >= 3) {
            if (p[2].equals("tmp")) {
                return null; // DeepGEMM compiles into tmp/<uuid>/, then renames it into cache/
            }
            if (p[2].equals("cache") && p.length >= 5) {
                return folderAt(fw, p, 4, Writes.ATOMIC);
            }
        }
        return file(fw, p, false, Writes.IN_PLACE);
    }

    /** {@code torch_aot_compile/<sha256>/} at segment {@code b}: one rank folder each, the shared Inductor cache by its rules. */
    private static Unit aot(Framework fw, String[] p, int b) {
        if (p.length > b + 2 && p[b + 1].equals("inductor_cache")) {
            return inductor(fw, p, b + 2);
        }
        return folderAt(fw, p, b + 2, Writes.IN_PLACE);
    }

    private static Unit flashinfer(Framework fw, String[] p) {
        if (p.length >= 7
                && p[1].equals(".cache")
                && p[2].equals("flashinfer")
                && (p[4].equals("cached_ops") || p[4].equals("generated"))) {
            return folderAt(fw, p, 6, Writes.IN_PLACE); // compilers write outputs in place; ninja appends its log
        }
        return file(fw, p, false, Writes.IN_PLACE);
    }

    /** Only under a {@code driver-<version>/} folder ({@link CudaDriver}): a file of no known driver is never served. */
    private static Unit cuda(Framework fw, String[] p) {
        if (p.length < 3 || !p[1].startsWith("driver-")) {
            return null;
        }
        return file(fw, p, p.length == 3 && p[2].equals("index"), Writes.IN_PLACE);
    }

    /** The first {@code depth} segments name the folder entry; the rest is the path inside it. */
    private static Unit folderAt(Framework fw, String[] p, int depth, Writes writes) {
        if (p.length <= depth) {
            return file(fw, p, false, writes);
        }
        StringBuilder name = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            name.append(p[i]).append('/');
        }
        StringBuilder rest = new StringBuilder();
        for (int i = depth; i < p.length; i++) {
            rest.append(i > depth ? "/" : "").append(p[i]);
        }
        return new Unit(fw, name.toString(), rest.toString(), false, writes);
    }

    private static Unit file(Framework fw, String[] p, boolean mutable, Writes writes) {
        return new Unit(fw, String.join("/", p), p[p.length - 1], mutable, writes);
    }
}
