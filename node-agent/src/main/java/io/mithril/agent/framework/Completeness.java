package io.mithril.agent.framework;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether a folder entry, as found on disk, is whole enough to serve. A Triton kernel folder whose
 * {@code .json} metadata is there without its {@code .cubin} makes Triton crash with a KeyError, so
 * such a folder is never ingested; it is left for the next pass (the compile may still be running).
 */
public final class Completeness {

    private static final Pattern GRP_CHILD = Pattern.compile("\"[^\"]*/([^\"/]+)\"");
    private static final Pattern BINARY = Pattern.compile(".*\\.(cubin|hsaco|so|spv)$");

    private Completeness() {}

    /**
     * @param files the folder's files: path inside the entry to the first 64 KiB of the group file
     *              (for {@code __grp__*.json}) or null for other files
     * @return null when complete, else why not
     */
    public static String tritonFolder(Map<String, byte[]> files) {
        boolean hasBinary = false;
        boolean hasMeta = false;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            String name = f.getKey();
            if (BINARY.matcher(name).matches()) {
                hasBinary = true;
            } else if (name.endsWith(".json") && !name.startsWith("__grp__")) {
                hasMeta = true;
            }
            if (name.startsWith("__grp__") && f.getValue() != null) {
                Matcher m = GRP_CHILD.matcher(new String(f.getValue(), java.nio.charset.StandardCharsets.UTF_8));
                while (m.find()) {
                    if (!files.containsKey(m.group(1))) {
                        return "group file names " + m.group(1) + ", which is missing";
                    }
                }
            }
        }
        if (hasMeta && !hasBinary) {
            return "kernel metadata (.json) without its binary (.cubin)";
        }
        return null;
    }
}
