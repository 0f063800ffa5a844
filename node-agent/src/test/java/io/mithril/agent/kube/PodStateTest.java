package io.mithril.agent.kube;

import static io.mithril.agent.kube.PodState.AWAITING_FOLDER;
import static io.mithril.agent.kube.PodState.COLD;
import static io.mithril.agent.kube.PodState.DONE;
import static io.mithril.agent.kube.PodState.FINISHING;
import static io.mithril.agent.kube.PodState.LIVE;
import static io.mithril.agent.kube.PodState.NEW;
import static io.mithril.agent.kube.PodState.PUBLISHING;
import static io.mithril.agent.kube.PodState.REFUSED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link PodState}'s transition table, and {@link TrackedPod} moving along it and nowhere else. */
class PodStateTest {

    static final String UID = "0f8c2a1e-1111-4222-8333-944455556666";

    /** The table as the class javadoc of PodState draws it, written out again. */
    static final Map<PodState, Set<PodState>> LEGAL = new EnumMap<>(Map.of(
            NEW, EnumSet.of(PUBLISHING, COLD, LIVE, DONE),
            PUBLISHING, EnumSet.of(LIVE, AWAITING_FOLDER, COLD, REFUSED, NEW),
            AWAITING_FOLDER, EnumSet.of(PUBLISHING, COLD, NEW, DONE),
            LIVE, EnumSet.of(FINISHING),
            FINISHING, EnumSet.of(DONE),
            COLD, EnumSet.of(DONE, NEW),
            REFUSED, EnumSet.of(DONE, NEW),
            DONE, EnumSet.of(DONE, NEW)));

    /** A pod brought to {@code s} along legal moves. */
    static TrackedPod in(PodState s) {
        TrackedPod t = new TrackedPod(UID);
        switch (s) {
            case NEW -> {}
            case PUBLISHING, COLD, DONE -> t.moveTo(s, 1);
            case LIVE -> t.live("team-a/p", null, 1);
            case FINISHING -> {
                t.live("team-a/p", null, 1);
                t.moveTo(FINISHING, 2);
            }
            case AWAITING_FOLDER, REFUSED -> {
                t.moveTo(PUBLISHING, 1);
                t.moveTo(s, 2);
            }
        }
        assertThat(t.state()).isEqualTo(s);
        return t;
    }

    @Test
    void everyState_hasARowInTheTable() {
        assertThat(LEGAL.keySet()).containsExactlyInAnyOrder(PodState.values());
    }

    @Test
    void everyLegalTransition_isMade_andRecordsWhen() {
        for (PodState from : PodState.values()) {
            for (PodState to : LEGAL.get(from)) {
                assertThat(from.canMoveTo(to)).as("%s -> %s", from, to).isTrue();
                TrackedPod t = in(from);
                t.moveTo(to, 42);
                assertThat(t.state()).as("%s -> %s", from, to).isEqualTo(to);
                assertThat(t.since()).isEqualTo(42);
            }
        }
    }

    @Test
    void everyOtherTransition_isRefused_namingBothStates_andChangesNothing() {
        int refused = 0;
        for (PodState from : PodState.values()) {
            for (PodState to : EnumSet.complementOf(EnumSet.copyOf(LEGAL.get(from)))) {
                assertThat(from.canMoveTo(to)).as("%s -> %s", from, to).isFalse();
                TrackedPod t = in(from);
                long since = t.since();
                assertThatThrownBy(() -> t.moveTo(to, 42))
                        .as("%s -> %s", from, to)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining(UID)
                        .hasMessageContaining("from " + from + " to " + to);
                assertThat(t.state()).isEqualTo(from);
                assertThat(t.since()).isEqualTo(since);
                refused++;
            }
        }
        assertThat(refused)
                .isEqualTo(8 * 8 - LEGAL.values().stream().mapToInt(Set::size).sum());
    }

    @Test
    void aLiveViewOrAnAwaitedPod_isTakenOnlyFromAStateThatMayMoveThere() {
        assertThatThrownBy(() -> in(DONE).live("team-a/p", null, 5))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("from DONE to LIVE");
        TrackedPod done = in(DONE);
        assertThat(done.display()).isNull();
        assertThatThrownBy(() -> in(NEW).awaitFolder(new PodBuilder().build(), 5))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("from NEW to AWAITING_FOLDER");
    }

    @Test
    void theAwaitedPod_isHeldWhileAwaitingItsFolder_andDroppedOnLeaving() {
        TrackedPod t = in(PUBLISHING);
        var pod = new PodBuilder().withNewMetadata().withUid(UID).endMetadata().build();
        t.awaitFolder(pod, 3);
        assertThat(t.state()).isEqualTo(AWAITING_FOLDER);
        assertThat(t.awaiting()).isSameAs(pod);
        t.moveTo(NEW, 4);
        assertThat(t.awaiting()).isNull();
    }

    @Test
    void onlyColdRefusedAndDone_areSettled() {
        assertThat(EnumSet.allOf(PodState.class).stream().filter(PodState::settled))
                .containsExactlyInAnyOrder(COLD, REFUSED, DONE);
        for (PodState s : PodState.values()) {
            assertThat(s.canMoveTo(PUBLISHING)).as("%s publishes again", s).isEqualTo(s == NEW || s == AWAITING_FOLDER);
        }
    }
}
