package io.mithril.agent.framework;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether a Triton cache folder, as found on disk, is whole enough to serve. Triton
 * ({@code python/triton/runtime/cache.py}, {@code FileCacheManager}) puts each file of a compiled
 * kernel through a temporary folder and {@code os.replace}, and writes the group file
 * {@code __grp__<name>.json} last, naming every child ({@code compiler/compiler.py}); a reader that
 * finds the group but not a child it names fails with a KeyError. So a kernel folder is complete when
 * it has a group file and every child that file names is there. Two kinds of folder have no group
 * file and are whole with their one file: the autotuner's disk cache ({@code <fn>.autotune.json},
 * {@code runtime/autotuner.py}) and compiled launchers ({@code <name>.so}, the backend's driver). Any
 * other folder without a group file is a compile that was interrupted or is still running: left for
 * a later pass.
 */
public final class Completeness {

    private static final Pattern CHILD_PATHS = Pattern.compile("\"child_paths\"\\s*:\\s*\\{([^}]*)}");
    private static final Pattern CHILD = Pattern.compile("\"([^\"]+)\"\\s*:");
    private static final Pattern SINGLE_FILE_FOLDER = Pattern.compile(".*\\.autotune\\.json|[^/]*\\.so");

    private Completeness() {}

    /**
     * @param files the folder's files: path inside the entry to the first 64 KiB of the group file
     *              (for {@code __grp__*.json}) or null for other files
     * @return null when complete, else why not
     */
    public static String tritonFolder(Map<String, byte[]> files) {
        boolean grouped = false;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            if (!f.getKey().startsWith("__grp__")) {
                continue;
            }
            grouped = true;
            String text = f.getValue() == null ? "" : new String(f.getValue(), StandardCharsets.UTF_8);
            Matcher paths = CHILD_PATHS.matcher(text);
            if (!paths.find()) {
                return "group file " + f.getKey() + " names no children (torn or unreadable)";
            }
            Matcher child = CHILD.matcher(paths.group(1));
            while (child.find()) {
                if (!files.containsKey(child.group(1))) {
                    return "group file names " + child.group(1) + ", which is missing";
                }
            }
        }
        if (grouped
                || !files.isEmpty()
                        && files.keySet().stream()
                                .allMatch(n -> SINGLE_FILE_FOLDER.matcher(n).matches())) {
            return null;
        }
        return "no group file (__grp__*.json): the compile was interrupted or is still running";
    }
}
