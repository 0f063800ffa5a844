package io.mithril.agent.fs;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The names under the agent's root folder ({@code --root}; {@code /var/lib/mithril/store} in the chart)
 * besides the content store's own files, each named here once. The store's layout check
 * ({@code NodeStore}: a non-empty folder is only taken for a new store if it holds nothing but store
 * files and these) reads {@link #PATTERN}, so a name added here cannot be forgotten there.
 */
public final class NodeRoot {

    private NodeRoot() {}

    /** {@code exec}'s views, one folder per run. */
    public static final String VIEWS = "views";
    /** In Kubernetes, one record per published pod (its group, frameworks, mode and folder). */
    public static final String PODS = "pods";
    /** In Kubernetes, markers of pods that got no view (so each is counted once across restarts). */
    public static final String PODS_COLD = "pods.cold";
    /** In Kubernetes, the per-group counts of pod starts, kept across restarts. */
    public static final String ACTIVITY = "activity";
    /** Where {@link #ACTIVITY} is written before it is renamed into place. */
    public static final String ACTIVITY_TMP = ACTIVITY + ".tmp";

    /**
     * Where a standalone {@code serve} takes {@code exec}'s requests to prepare its runs (named pipes,
     * {@code exec.ExecProtocol}). A compile-time constant, so that {@code exec}'s client reads it
     * without loading this class.
     */
    public static final String AGENT = "agent";

    /** Every name of this list, in the order above. */
    public static final List<String> NAMES = List.of(VIEWS, PODS, PODS_COLD, ACTIVITY, ACTIVITY_TMP, AGENT);

    /** Matches exactly the {@link #NAMES}. */
    public static final Pattern PATTERN =
            Pattern.compile(String.join("|", NAMES.stream().map(Pattern::quote).toList()));

    public static Path views(Path root) {
        return root.resolve(VIEWS);
    }

    public static Path pods(Path root) {
        return root.resolve(PODS);
    }

    public static Path podsCold(Path root) {
        return root.resolve(PODS_COLD);
    }

    public static Path agent(Path root) {
        return root.resolve(AGENT);
    }

    public static Path activity(Path root) {
        return root.resolve(ACTIVITY);
    }
}
