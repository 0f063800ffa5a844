package io.mithril.agent.framework;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The agent's frameworks are the rows of the table in api/ that the webhook injects from: the same
 * folder and variable for each (by construction now; this pins that every row has an agent name and
 * that what the webhook writes on a pod reads back as what it injected).
 */
class FrameworkContractTest {

    @Test
    void everyRowOfTheSharedTable_hasOneAgentFramework_withItsFolderAndVariable() {
        Set<io.mithril.api.v1alpha1.Framework> seen = EnumSet.noneOf(io.mithril.api.v1alpha1.Framework.class);
        for (Framework f : Framework.values()) {
            assertThat(seen.add(f.api())).as(f.name()).isTrue();
            assertThat(f.dir()).isEqualTo(f.api().dir());
            assertThat(f.envVar()).isEqualTo(f.api().envVar());
            assertThat(Framework.of(f.api())).isSameAs(f);
            assertThat(Framework.ofDir(f.dir())).isSameAs(f);
        }
        assertThat(seen).containsExactlyInAnyOrder(io.mithril.api.v1alpha1.Framework.values());
    }

    @Test
    void impliedAndDefaults_followTheSharedTable() {
        for (Framework f : Framework.values()) {
            assertThat(f.implied().stream().map(Framework::api).toList())
                    .containsExactlyElementsOf(f.api().implied());
        }
        assertThat(Framework.defaults().stream().map(Framework::api).toList())
                .isEqualTo(io.mithril.api.v1alpha1.Defaults.FRAMEWORKS);
    }

    /** The annotation as the webhook writes it (wire names, comma-separated) reads back as what it injected. */
    @Test
    void webhookAnnotation_readsBackAsTheInjectedFrameworks() {
        List<io.mithril.api.v1alpha1.Framework> injected = io.mithril.api.v1alpha1.Framework.withImplied(List.of(
                io.mithril.api.v1alpha1.Framework.VLLM,
                io.mithril.api.v1alpha1.Framework.CudaJIT,
                io.mithril.api.v1alpha1.Framework.FlashInfer));
        String annotation = String.join(
                ",",
                injected.stream().map(io.mithril.api.v1alpha1.Framework::wire).toList());
        assertThat(Framework.ofWireList(annotation).stream().map(Framework::api).toList())
                .isEqualTo(injected);
        assertThat(Framework.ofWireList(" SGLang , Nonesuch")).containsExactly(Framework.SGLANG);
        assertThat(Framework.ofWireList(null)).isEqualTo(Framework.defaults());
        assertThat(Framework.ofWireList("nonesuch")).isEqualTo(Framework.defaults());
    }

    @Test
    void cudaLink_isWhereTheWebhookPointsTheVariable() {
        assertThat(CudaDriver.CURRENT)
                .isEqualTo(io.mithril.api.v1alpha1.Framework.CudaJIT.podPath())
                .isEqualTo("cuda/current");
    }
}
