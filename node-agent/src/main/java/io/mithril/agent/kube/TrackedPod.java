package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.ViewSession;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pod as {@link PodVolumes} tracks it: its {@link PodState}, since when, and what that state
 * holds (the pod last seen while it awaits its folder; the view session while it is live or ending).
 * Its state changes only through {@link #moveTo}, under the pod's lock ({@link PodLocks}), and only
 * along {@link PodState#next()}; it is read without the lock (volatile) by the paths that must not
 * wait on a pod's ingest pass.
 */
final class TrackedPod {

    private static final Logger log = LoggerFactory.getLogger(TrackedPod.class);

    private final String uid;
    private volatile PodState state = PodState.NEW;
    /** When it entered its state (the clock's millis): settled pods are forgotten an hour after. */
    private volatile long since;
    /** AWAITING_FOLDER: the pod as last seen, observed again at each periodic pass. */
    private volatile Pod awaiting;
    /** LIVE, FINISHING: {@code namespace/name}, or {@code gone:<uid>} for a view recovered of a pod that is gone. */
    private volatile String display;
    /** LIVE, FINISHING: its view. */
    private volatile ViewSession session;
    /** A pass over its view is running (a slow one is never queued twice, nor waited for by others). */
    private final AtomicBoolean passing = new AtomicBoolean();
    /** A container of the pod crashed, or the pod Failed (see {@link #outcome}). */
    private volatile boolean crashed;
    /** The pod was Ready at least once, or ended Succeeded: what it produced may go to the remote tier. */
    private volatile boolean wentWell;
    /** Names its passes committed that are not queued for upload yet (it was not Ready yet); guarded by this. */
    private final List<String> unqueued = new ArrayList<>();

    TrackedPod(String uid) {
        this.uid = uid;
    }

    String uid() {
        return uid;
    }

    PodState state() {
        return state;
    }

    long since() {
        return since;
    }

    /**
     * Moves it to {@code to} at {@code now}; refuses a move {@link PodState#next()} does not list.
     * Leaving AWAITING_FOLDER drops the pod it held.
     */
    void moveTo(PodState to, long now) {
        PodState from = check(to);
        if (to != PodState.AWAITING_FOLDER) {
            awaiting = null;
        }
        since = now;
        state = to;
        log.debug("pod {}: {} -> {}", uid, from, to);
    }

    /** PUBLISHING to AWAITING_FOLDER, keeping the pod as last seen for the next pass. */
    void awaitFolder(Pod newest, long now) {
        check(PodState.AWAITING_FOLDER);
        awaiting = newest;
        moveTo(PodState.AWAITING_FOLDER, now);
    }

    /** To LIVE with its view ({@code display}: whom it is for, in logs and outcomes). */
    void live(String display, ViewSession session, long now) {
        check(PodState.LIVE);
        this.display = display;
        this.session = session;
        moveTo(PodState.LIVE, now);
    }

    /** The state it is in, when it may move to {@code to}; else IllegalStateException naming both. */
    private PodState check(PodState to) {
        PodState from = state;
        if (!from.canMoveTo(to)) {
            throw new IllegalStateException("pod " + uid + ": no transition from " + from + " to " + to);
        }
        return from;
    }

    /** AWAITING_FOLDER: the pod as last seen. */
    Pod awaiting() {
        return awaiting;
    }

    String display() {
        return display;
    }

    ViewSession session() {
        return session;
    }

    View view() {
        return session.view();
    }

    /** Takes the right to run a pass over its view; false while one still runs. */
    boolean startPass() {
        return passing.compareAndSet(false, true);
    }

    void endPass() {
        passing.set(false);
    }

    /** Notes what the pod's status says of its run: a container that exited non-zero, or phase Failed. */
    void note(PodFacts f) {
        crashed |= f.crashed();
        wentWell |= f.ready() || f.succeeded();
    }

    /**
     * Whether what it produced may be uploaded: Ready at least once or Succeeded, and never crashed
     * (a crashed or failed pod's entries never reach the fleet).
     */
    boolean uploadable() {
        return wentWell && !crashed;
    }

    /**
     * Notes names its passes committed and hands back what may be queued for upload now (all that
     * waited, once it is {@link #uploadable}); empty while it is not.
     */
    synchronized List<String> toUpload(List<String> committed) {
        unqueued.addAll(committed);
        if (!uploadable() || unqueued.isEmpty()) {
            return List.of();
        }
        List<String> out = List.copyOf(unqueued);
        unqueued.clear();
        return out;
    }

    /**
     * What the final pass may take. A pod failed when it ended Failed or a container of it exited
     * non-zero while the pod was not being deleted (a crash, also one kubelet restarted); a pod
     * deleted (scale-down, rollout) or Succeeded ended well: servers end by being deleted.
     */
    Pass outcome() {
        return crashed ? Pass.FAILED : Pass.SUCCEEDED;
    }
}
