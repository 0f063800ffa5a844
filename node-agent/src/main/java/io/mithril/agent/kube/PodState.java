package io.mithril.agent.kube;

import java.util.EnumSet;
import java.util.Set;

/**
 * Where one pod stands with this agent ({@link TrackedPod}). The transitions, and nothing else:
 * <pre>
 * NEW             -> PUBLISHING       seen, its CompileCache exists, its wait step has not ended
 *                 -> COLD             seen after its wait step ended
 *                 -> LIVE             recover() adopts the view an earlier run published
 *                 -> DONE             ended or gone with no view: what is left is removed
 * PUBLISHING      -> LIVE             published
 *                 -> AWAITING_FOLDER  EmptyDir mode, kubelet has not made the emptyDir yet
 *                 -> COLD             its newest state shows its wait step ended
 *                 -> REFUSED          no group of that name, or an emptyDir this agent may not use
 *                 -> NEW              gone meanwhile, or publish failed (its next update tries again)
 * AWAITING_FOLDER -> PUBLISHING       an update
 *                 -> COLD             an update shows its wait step ended
 *                 -> NEW              a periodic pass: seen afresh, as its last update showed it
 *                 -> DONE             ended or gone
 * LIVE            -> FINISHING        ended or gone
 * FINISHING       -> DONE             last pass, unpublish, outcome
 * COLD, REFUSED   -> DONE             ended or gone: what kubelet or a partial publish left is removed
 * DONE            -> DONE             a later end event (Succeeded, then deleted): removed again
 * COLD, REFUSED, DONE -> NEW          an hour later (forgotten: no stale event can come any more)
 * </pre>
 * Only NEW is not held: a pod in NEW is in no map, so a pod the agent never saw and one it forgot
 * are the same. COLD, REFUSED and DONE are {@link #settled}: no update publishes the pod again.
 */
enum PodState {

    /** Not tracked: never seen, waiting for its CompileCache, a publish that failed, or forgotten. */
    NEW,
    /** Being published (under the pod's lock). */
    PUBLISHING,
    /** EmptyDir mode, kubelet has not made the emptyDir yet: seen afresh at each periodic pass. */
    AWAITING_FOLDER,
    /** Its view is published (or adopted after a restart) and ingested at each periodic pass. */
    LIVE,
    /** Its view is ending: the last pass, unpublish, the outcome (under the pod's lock). */
    FINISHING,
    /** It runs without a view: its wait step ended before the agent published. */
    COLD,
    /** This agent cannot serve it: a name no group can have, or an emptyDir it may not use. */
    REFUSED,
    /** It ended here; a late update of it must not publish it again. */
    DONE;

    /** The states this one may move to. */
    Set<PodState> next() {
        return switch (this) {
            case NEW -> EnumSet.of(PUBLISHING, COLD, LIVE, DONE);
            case PUBLISHING -> EnumSet.of(LIVE, AWAITING_FOLDER, COLD, REFUSED, NEW);
            case AWAITING_FOLDER -> EnumSet.of(PUBLISHING, COLD, NEW, DONE);
            case LIVE -> EnumSet.of(FINISHING);
            case FINISHING -> EnumSet.of(DONE);
            case COLD, REFUSED -> EnumSet.of(DONE, NEW);
            case DONE -> EnumSet.of(DONE, NEW);
        };
    }

    boolean canMoveTo(PodState to) {
        return next().contains(to);
    }

    /** No update publishes the pod again; it is forgotten an hour after it got here. */
    boolean settled() {
        return this == COLD || this == REFUSED || this == DONE;
    }
}
