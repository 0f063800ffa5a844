package io.mithril.agent.framework;

import java.util.regex.Pattern;

/**
 * Maps a file of a view (its path relative to the view, starting with the framework's folder) to the
 * entry it belongs to: the unit that is ingested, used and evicted whole.
 *
 * <table>
 *   <tr><th>framework</th><th>path</th><th>entry</th></tr>
 *   <tr><td>Inductor</td><td>{@code fxgraph/<xx>/<key>/*}</td><td>the key folder</td></tr>
 *   <tr><td></td><td>{@code aotautograd/<key>/*}</td><td>the key folder</td></tr>
 *   <tr><td></td><td>{@code triton/<dev>/<key>/*} (Triton inside Inductor)</td><td>the kernel folder</td></tr>
 *   <tr><td></td><td>{@code <xx>/<hash>.best_config}, {@code cache/<sha>}, {@code dynamo/*}</td><td>the file, mutable</td></tr>
 *   <tr><td></td><td>{@code locks/*}</td><td>never ingested</td></tr>
 *   <tr><td>Triton</td><td>{@code <key>/*}</td><td>the kernel (or launcher) folder</td></tr>
 *   <tr><td>vLLM, SGLang</td><td>{@code torch_compile_cache/<hash>/**}</td><td>the hash folder</td></tr>
 *   <tr><td>CUDA JIT</td><td>{@code index}</td><td>the file, mutable</td></tr>
 *   <tr><td>any</td><td>anything else</td><td>the file itself</td></tr>
 * </table>
 * Temp and lock files are never entries: dot-files (Inductor's {@code .<pid>.<tid>.tmp}), Triton's
 * {@code tmp.pid_*} folders, {@code *.tmp}, {@code *.lock}, {@code *.lck}.
 */
public final class EntryRules {

    /** What a file is part of. {@code entryName} ends with '/' for folder entries. */
    public record Unit(Framework framework, String entryName, String pathInEntry, boolean mutable) {
        public boolean folder() {
            return entryName.endsWith("/");
        }
    }

    private static final Pattern TWO = Pattern.compile("[0-9a-z]{2}");

    private EntryRules() {}

    /** True for names that are in flight or locks, at any depth: never ingested. */
    public static boolean isTransient(String segment) {
        return segment.startsWith(".") || segment.startsWith("tmp.pid_") || segment.endsWith(".tmp")
                || segment.endsWith(".lock") || segment.endsWith(".lck") || segment.endsWith(".partial");
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
     * Classifies a view-relative path such as {@code inductor/fxgraph/ab/fabc/entry}. Returns null
     * for files that are never ingested (transient names, lock folders, unknown framework folders).
     */
    public static Unit classify(String viewPath) {
        String[] p = viewPath.split("/");
        if (p.length < 2) {
            return null; // files at the top of a view belong to no framework
        }
        for (String seg : p) {
            if (isTransient(seg)) {
                return null;
            }
        }
        Framework fw = Framework.ofDir(p[0]);
        if (fw == null) {
            return null;
        }
        return switch (fw) {
            case INDUCTOR -> inductor(fw, p);
            case TRITON -> folderAt(fw, p, 2, false);
            case VLLM, SGLANG -> p.length >= 4 && p[1].equals("torch_compile_cache") ? folderAt(fw, p, 3, false) : file(fw, p, false);
            case CUDA -> file(fw, p, p.length == 2 && p[1].equals("index"));
        };
    }

    private static Unit inductor(Framework fw, String[] p) {
        String first = p[1];
        if (first.equals("locks")) {
            return null;
        }
        if (first.equals("fxgraph") && p.length >= 5) {
            return folderAt(fw, p, 4, false);
        }
        if (first.equals("aotautograd") && p.length >= 4) {
            return folderAt(fw, p, 3, false);
        }
        if (first.equals("triton") && p.length >= 5) {
            return folderAt(fw, p, 4, false);
        }
        if (first.equals("cache") || first.equals("dynamo")) {
            return file(fw, p, true);
        }
        if (p.length == 3 && TWO.matcher(first).matches()) {
            return file(fw, p, p[2].endsWith(".best_config"));
        }
        return file(fw, p, false);
    }

    /** The first {@code depth} segments name the folder entry; the rest is the path inside it. */
    private static Unit folderAt(Framework fw, String[] p, int depth, boolean mutable) {
        if (p.length <= depth) {
            return file(fw, p, mutable);
        }
        StringBuilder name = new StringBuilder();
        for (int i = 0; i < depth; i++) {
            name.append(p[i]).append('/');
        }
        StringBuilder rest = new StringBuilder();
        for (int i = depth; i < p.length; i++) {
            rest.append(i > depth ? "/" : "").append(p[i]);
        }
        return new Unit(fw, name.toString(), rest.toString(), mutable);
    }

    private static Unit file(Framework fw, String[] p, boolean mutable) {
        return new Unit(fw, String.join("/", p), p[p.length - 1], mutable);
    }
}
