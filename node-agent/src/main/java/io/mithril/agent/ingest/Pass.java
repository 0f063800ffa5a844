package io.mithril.agent.ingest;

/**
 * Which ingest pass this is, and how the workload's run ended. What a pass may take follows from it
 * (docs/volumes.md, "What a run may contribute"):
 * <ul>
 *   <li>{@link #PERIODIC}: the workload runs. Only files unchanged for the settle time.</li>
 *   <li>{@link #SUCCEEDED}: it ended well (exit 0; a pod that was Ready or Succeeded) and nothing it
 *       started still runs: everything whole is taken.</li>
 *   <li>{@link #SUCCEEDED_WRITERS_LEFT}: it ended well but processes it started still run (a
 *       background writer): as periodic, and what is still changing is lost.</li>
 *   <li>{@link #FAILED}: it was killed, exited non-zero, or was stopped before it was ever Ready. A
 *       file it was writing when it died may be torn, and nothing tells a torn file from a whole one
 *       afterwards. Only units whose framework puts whole files under their final names
 *       ({@link io.mithril.agent.framework.EntryRules.Unit#atomic()}) contribute, and only files
 *       unchanged for the settle time before the end.</li>
 * </ul>
 */
public enum Pass {
    PERIODIC,
    SUCCEEDED,
    SUCCEEDED_WRITERS_LEFT,
    FAILED;

    /** Whether a file changed within the settle time is left alone. */
    boolean settles() {
        return this != SUCCEEDED;
    }

    boolean last() {
        return this != PERIODIC;
    }
}
