package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.store.StoreFixture;
import io.mithril.agent.volume.PublishMode;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class PodRecordTest {

    static final Path DIR = Path.of("/var/lib/mithril/volumes/0f8c2a1e-1111-4222-8333-944455556666");

    @Test
    void aRecordReadsBackAsWritten_behindItsVersionLine() {
        PodRecord r = new PodRecord(
                StoreFixture.H100,
                new LinkedHashSet<>(List.of(Framework.INDUCTOR, Framework.TRITON, Framework.VLLM)),
                PublishMode.LINK,
                DIR,
                true);
        List<String> lines = r.text().lines().toList();
        assertThat(lines).hasSize(6).first().isEqualTo(PodRecord.HEADER);
        assertThat(PodRecord.parse(lines)).isEqualTo(r);
    }

    @Test
    void theUnversionedFormatOfEarlierAgents_isStillRead() {
        List<String> old = List.of(StoreFixture.H100.text(), "inductor,triton", "COPY", DIR.toString(), "false");
        PodRecord r = PodRecord.parse(old);
        assertThat(r.group()).isEqualTo(StoreFixture.H100);
        assertThat(r.frameworks()).containsExactlyInAnyOrder(Framework.INDUCTOR, Framework.TRITON);
        assertThat(r.mode()).isEqualTo(PublishMode.COPY);
        assertThat(r.dir()).isEqualTo(DIR);
        assertThat(r.keepFolder()).isFalse();
    }

    @Test
    void aNewerFormat_aShortRecord_orAGarbledOne_isRefused() {
        assertThatThrownBy(() -> PodRecord.parse(List.of(
                        "mithril-pod-record 2", StoreFixture.H100.text(), "inductor", "LINK", DIR.toString(), "false")))
                .hasMessageContaining("newer format");
        assertThatThrownBy(() -> PodRecord.parse(List.of(StoreFixture.H100.text(), "inductor", "LINK")))
                .hasMessageContaining("3 lines");
        assertThatThrownBy(() ->
                        PodRecord.parse(List.of(StoreFixture.H100.text(), "inductor", "LINK", DIR.toString(), "yes")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PodRecord.parse(List.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
