package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.store.StoreFixture;
import io.mithril.agent.volume.PublishMode;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What {@link PodVolumes#recover} makes of what an earlier run left, as {@link Recovery#of} decides it. */
class RecoveryTest {

    static final String UID = "0f8c2a1e-1111-4222-8333-944455556666";
    static final PodRecord RECORD = new PodRecord(
            StoreFixture.H100,
            Set.of(Framework.INDUCTOR),
            PublishMode.LINK,
            Path.of("/var/lib/mithril/volumes/" + UID),
            false);

    static PodFacts pod(boolean terminal, boolean waitStepEnded) {
        return new PodFacts(
                UID,
                "team-a",
                "p",
                "gpu-1",
                "gpt",
                Set.of(Framework.INDUCTOR),
                null,
                false,
                terminal,
                waitStepEnded,
                false,
                false,
                false);
    }

    @Test
    void aRunningPod_withAWholeView_isAdopted_live() {
        assertThat(Recovery.of(RECORD, pod(false, false), true, true)).isEqualTo(Recovery.ADOPT);
        assertThat(Recovery.of(RECORD, pod(false, true), true, true)).isEqualTo(Recovery.ADOPT);
        assertThat(Recovery.ADOPT.leaves()).isEqualTo(PodState.LIVE);
    }

    @Test
    void aRunningPod_stillInItsWaitStep_publishCutShort_isEmptiedForAPublish() {
        assertThat(Recovery.of(RECORD, pod(false, false), false, true)).isEqualTo(Recovery.REPUBLISH);
        assertThat(Recovery.REPUBLISH.leaves()).isEqualTo(PodState.NEW);
    }

    @Test
    void aRunningPod_withoutAWholeView_isLeft_toRunColdOrBePublished() {
        assertThat(Recovery.of(RECORD, pod(false, true), false, true))
                .as("it runs cold in the folder")
                .isEqualTo(Recovery.LEAVE);
        assertThat(Recovery.of(RECORD, pod(false, false), false, false))
                .as("no folder")
                .isEqualTo(Recovery.LEAVE);
        assertThat(Recovery.of(null, pod(false, false), false, true))
                .as("no record: kubelet's folder")
                .isEqualTo(Recovery.LEAVE);
        assertThat(Recovery.of(null, pod(false, true), true, true))
                .as("no record, a marker")
                .isEqualTo(Recovery.LEAVE);
        assertThat(Recovery.LEAVE.leaves()).isEqualTo(PodState.NEW);
    }

    @Test
    void anEndedOrGonePod_withARecordAndItsFolder_isFinished() {
        assertThat(Recovery.of(RECORD, null, true, true)).isEqualTo(Recovery.FINISH);
        assertThat(Recovery.of(RECORD, pod(true, true), false, true)).isEqualTo(Recovery.FINISH);
        assertThat(Recovery.FINISH.leaves()).isEqualTo(PodState.DONE);
    }

    @Test
    void anEndedOrGonePod_withoutRecordOrFolder_hasWhatIsLeftRemoved() {
        assertThat(Recovery.of(null, null, false, true)).isEqualTo(Recovery.REMOVE);
        assertThat(Recovery.of(RECORD, null, false, false)).isEqualTo(Recovery.REMOVE);
        assertThat(Recovery.of(null, pod(true, false), false, false)).isEqualTo(Recovery.REMOVE);
        assertThat(Recovery.REMOVE.leaves()).isEqualTo(PodState.NEW);
    }
}
