package io.mithril.api.v1alpha1;

/**
 * What the webhook leaves on a pod it injected, and what the node agent reads back: the contract
 * between the two, kept here so both sides name it once.
 */
public final class Injected {

    private Injected() {}

    /** The CompileCache the pod was given. */
    public static final String ANNOTATION = "mithril.io/injected";
    /** The containers that got the cache, comma-separated. */
    public static final String ANNOTATION_CONTAINERS = "mithril.io/injected-containers";
    /** The frameworks redirected, as {@link Framework} names, comma-separated. */
    public static final String ANNOTATION_FRAMEWORKS = "mithril.io/injected-frameworks";
    /** How the view reaches the pod: {@code HostPath} or {@code EmptyDir}. */
    public static final String ANNOTATION_VOLUME = "mithril.io/injected-volume";
    /** The injected init container that waits for the view. */
    public static final String WAIT_CONTAINER = "mithril-wait";
    /**
     * The file the node agent writes last into a view it published (temp + rename, so its presence
     * means a whole view), and what the injected init step waits for.
     */
    public static final String READY_MARKER = ".mithril-ready";
}
