package io.mithril.agent.framework;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CUDA driver version a view's CUDA JIT entries belong to. The driver's PTX cache is invalid
 * after a driver upgrade, so its entries are a sub-partition of the group: a view holds them under
 * {@code cuda/driver-<version>/} and only that version's entries are published into it.
 *
 * <p>{@code exec} points {@code CUDA_CACHE_PATH} at that folder directly. In Kubernetes the webhook
 * cannot know the node's driver when it admits a pod, so it points the variable at
 * {@code cuda/current}, a link the agent puts beside the folder ({@code current -> driver-<version>}).
 * Ingest passes over that link (it is the agent's own) and never takes a CUDA file that is not under
 * a {@code driver-} folder.
 */
public record CudaDriver(String version) {

    /** The link in a view's {@code cuda/} folder to the served driver's folder. */
    public static final String CURRENT = Framework.CUDA.api().podPath();

    public static final CudaDriver UNKNOWN = new CudaDriver("unknown");

    /** GPU feature discovery's labels: the full version (GFD 0.15+), else its parts (older GFD). */
    public static final String LABEL_FULL = "nvidia.com/cuda.driver-version.full";

    public static final String LABEL_MAJOR = "nvidia.com/cuda.driver.major";
    public static final String LABEL_MINOR = "nvidia.com/cuda.driver.minor";
    public static final String LABEL_REV = "nvidia.com/cuda.driver.rev";

    private static final Pattern PROC_VERSION =
            Pattern.compile("Kernel Module(?:\\s+for\\s+\\S+)?\\s+([0-9]+(?:\\.[0-9]+)+)");

    public CudaDriver {
        version = version == null || version.isBlank()
                ? "unknown"
                : version.trim().replaceAll("[^0-9A-Za-z._-]", "_");
    }

    /** A version as given (a flag, nvidia-smi's answer), or {@link #UNKNOWN} for null or blank. */
    public static CudaDriver of(String version) {
        return version == null || version.isBlank() ? UNKNOWN : new CudaDriver(version);
    }

    /** Where this driver's cache lives in a view. */
    public String folder() {
        return Framework.CUDA.dir() + "/driver-" + version;
    }

    /** Whether an entry of the group may be served to this driver: any entry but another driver's CUDA ones. */
    public boolean serves(String entryName) {
        return !entryName.startsWith(Framework.CUDA.dir() + "/") || entryName.startsWith(folder() + "/");
    }

    /**
     * Makes this driver's folder in a view and the {@link #CURRENT} link to it (relative, so it
     * resolves wherever the view is mounted). Left to the caller to chown.
     */
    public void prepare(Path view) throws IOException {
        Files.createDirectories(view.resolve(folder()));
        Path link = view.resolve(CURRENT);
        if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
            Files.createSymbolicLink(link, Path.of("driver-" + version));
        }
    }

    /**
     * The node's driver in Kubernetes: the override (a flag), else GPU feature discovery's labels,
     * else the kernel module's version in {@code procVersion} ({@code /proc/driver/nvidia/version},
     * visible in any container of the node), else {@link #UNKNOWN}.
     */
    public static CudaDriver ofNode(String override, Map<String, String> labels, Path procVersion) {
        if (override != null && !override.isBlank()) {
            return of(override);
        }
        String full = labels.get(LABEL_FULL);
        if (full != null && !full.isBlank()) {
            return of(full);
        }
        String major = labels.get(LABEL_MAJOR);
        if (major != null && !major.isBlank()) {
            StringBuilder v = new StringBuilder(major.trim());
            for (String part : new String[] {labels.get(LABEL_MINOR), labels.get(LABEL_REV)}) {
                if (part == null || part.isBlank()) {
                    break;
                }
                v.append('.').append(part.trim());
            }
            return of(v.toString());
        }
        return ofProc(procVersion);
    }

    /** Parses {@code NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ...}. */
    static CudaDriver ofProc(Path procVersion) {
        try {
            String text = Files.readString(procVersion, StandardCharsets.UTF_8);
            Matcher m = PROC_VERSION.matcher(text);
            return m.find() ? of(m.group(1)) : UNKNOWN;
        } catch (IOException | RuntimeException e) {
            return UNKNOWN;
        }
    }
}
