package io.mithril.api.v1alpha1;

import java.util.List;

/**
 * What a CompileCache means where it says nothing: the CRD's defaults (the API server fills them in)
 * and what the operator and the node agent assume for an object or pod that lacks them (one made
 * before a default existed, a pod annotated by an older webhook). One place, so the two programs and
 * the CRD cannot disagree.
 */
public final class Defaults {

    private Defaults() {}

    /** The frameworks of a CompileCache that names none: what plain {@code torch.compile} needs. */
    public static final List<Framework> FRAMEWORKS = List.of(Framework.Inductor, Framework.Triton);
    /** {@link #FRAMEWORKS} as the CRD's default (JSON); a test checks the two agree. */
    static final String FRAMEWORKS_JSON = "[\"Inductor\",\"Triton\"]";
    /** Per-node budget of a CompileCache without {@code spec.budget}, a {@link Sizes} quantity. */
    public static final String BUDGET = "20Gi";
    /** How long the injected init step waits for the view, in seconds, without {@code spec.publishTimeoutSeconds}. */
    public static final int PUBLISH_TIMEOUT_SECONDS = 30;
    /** How long a pod's start waits for the remote tier, in seconds, without {@code spec.remote.fetchDeadlineSeconds}. */
    public static final int REMOTE_FETCH_DEADLINE_SECONDS = 10;
}
