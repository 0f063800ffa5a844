package io.mithril.agent.volume;

/**
 * How immutable files reach a view. Mutable files (autotune picks, timing caches, the CUDA index) are
 * always copied, because frameworks rewrite them in place.
 *
 * <ul>
 *   <li>{@link #LINK}: hard links to the store's read-only blobs. Fast (no data is copied), and safe
 *       when the workload cannot write the blobs: it runs as another, non-root user than the store's
 *       owner (Kubernetes pods with {@code runAsUser}), or it runs as the store's own user
 *       (standalone {@code exec}), where there is no boundary to protect: that user can write the
 *       store directly. The view's linked files are checked at unpublish: a changed mtime or size
 *       gets the blob re-hashed and quarantined if it no longer matches (a same-size write that
 *       restores mtime is not caught; there the same user could write the store directly anyway).</li>
 *   <li>{@link #COPY}: private copies. For a workload that could rewrite a shared blob in place (a pod
 *       running as root in Kubernetes): what it writes stays in its own view.</li>
 * </ul>
 * The measurements behind this choice are in docs/benchmarks.md.
 */
public enum PublishMode {
    LINK,
    COPY
}
