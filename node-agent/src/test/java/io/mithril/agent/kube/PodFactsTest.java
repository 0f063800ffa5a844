package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.volume.PublishMode;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link PodFacts} read from hand-built Pods, as the API server would send them. */
class PodFactsTest {

    static final String UID = "0f8c2a1e-1111-4222-8333-944455556666";

    static PodBuilder injected(Map<String, String> extra, Long runAsUser) {
        Map<String, String> a =
                new HashMap<>(Map.of("mithril.io/injected", "gpt", "mithril.io/injected-containers", "train"));
        a.putAll(extra);
        return new PodBuilder()
                .withNewMetadata()
                .withName("p")
                .withNamespace("team-a")
                .withUid(UID)
                .withAnnotations(a)
                .endMetadata()
                .withNewSpec()
                .withNodeName("gpu-1")
                .addNewContainer()
                .withName("train")
                .withImage("pytorch")
                .withNewSecurityContext()
                .withRunAsUser(runAsUser)
                .endSecurityContext()
                .endContainer()
                .addNewContainer()
                .withName("sidecar")
                .withImage("envoy")
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPhase("Pending")
                .endStatus();
    }

    static PodFacts facts(Pod p) {
        return PodFacts.of(p).orElseThrow();
    }

    @Test
    void aPodTheWebhookDidNotInject_hasNoFacts() {
        assertThat(PodFacts.of(new PodBuilder()
                        .withNewMetadata()
                        .withName("x")
                        .endMetadata()
                        .build()))
                .isEmpty();
        assertThat(PodFacts.of(new PodBuilder()
                        .withNewMetadata()
                        .withName("x")
                        .withAnnotations(Map.of("a", "b"))
                        .endMetadata()
                        .withNewSpec()
                        .endSpec()
                        .build()))
                .isEmpty();
        assertThat(PodFacts.of(null)).isEmpty();
    }

    @Test
    void aWaitingPod_ofANamedUser_getsALinkViewOfItsFrameworks() {
        PodFacts f = facts(injected(Map.of("mithril.io/injected-frameworks", "Inductor,VLLM,Nonsense"), 1000L)
                .build());
        assertThat(f.uid()).isEqualTo(UID);
        assertThat(f.display()).isEqualTo("team-a/p");
        assertThat(f.cache()).isEqualTo("gpt");
        assertThat(f.frameworks()).containsExactly(Framework.INDUCTOR, Framework.VLLM);
        assertThat(f.access().mode()).isEqualTo(PublishMode.LINK);
        assertThat(f.access().owner().uid()).isEqualTo(1000);
        assertThat(f.emptyDirMode()).isFalse();
        assertThat(f.terminal()).isFalse();
        assertThat(f.waitStepEnded()).isFalse();
        assertThat(f.crashed()).isFalse();
        assertThat(f.takesPart("gpu-1")).isTrue();
        assertThat(f.takesPart("gpu-2")).as("bound to another node").isFalse();
    }

    @Test
    void rootOrAnUnnamedUser_getsCopies_theUnnamedOneAViewAnyoneMayWrite() {
        PodFacts root = facts(injected(Map.of(), 0L).build());
        assertThat(root.access().mode()).isEqualTo(PublishMode.COPY);
        PodFacts unnamed = facts(injected(Map.of(), null).build());
        assertThat(unnamed.access().mode()).isEqualTo(PublishMode.COPY);
        assertThat(unnamed.access().owner().anyone()).isTrue();
        assertThat(unnamed.frameworks()).as("no annotation: the defaults").isEqualTo(Framework.defaults());
    }

    @Test
    void aMalformedUid_doesNotTakePart() {
        PodFacts f = facts(injected(Map.of(), 1000L)
                .editMetadata()
                .withUid("../../etc")
                .endMetadata()
                .build());
        assertThat(f.takesPart("gpu-1")).isFalse();
    }

    @Test
    void emptyDirMode_waitStepEnded_andTerminalPhases_areRead() {
        PodFacts f = facts(injected(Map.of("mithril.io/injected-volume", "EmptyDir"), 1000L)
                .editStatus()
                .withPhase("Running")
                .addToInitContainerStatuses(new ContainerStatusBuilder()
                        .withName("mithril-wait")
                        .withNewState()
                        .withNewTerminated()
                        .withExitCode(0)
                        .endTerminated()
                        .endState()
                        .build())
                .endStatus()
                .build());
        assertThat(f.emptyDirMode()).isTrue();
        assertThat(f.waitStepEnded()).isTrue();
        assertThat(f.terminal()).isFalse();
        assertThat(facts(injected(Map.of(), 1000L)
                                .editStatus()
                                .withPhase("Succeeded")
                                .endStatus()
                                .build())
                        .terminal())
                .isTrue();
    }

    @Test
    void aContainerThatExitedNonZero_isACrash_unlessThePodIsBeingDeleted() {
        PodBuilder b = injected(Map.of(), 1000L)
                .editStatus()
                .withPhase("Running")
                .addToContainerStatuses(new ContainerStatusBuilder()
                        .withName("train")
                        .withNewLastState()
                        .withNewTerminated()
                        .withExitCode(137)
                        .endTerminated()
                        .endLastState()
                        .build())
                .endStatus();
        assertThat(facts(b.build()).crashed()).isTrue();
        assertThat(facts(b.editMetadata()
                                .withDeletionTimestamp("2026-12-01T00:00:00Z")
                                .endMetadata()
                                .build())
                        .crashed())
                .as("killed by its deletion: servers end that way")
                .isFalse();
        assertThat(facts(injected(Map.of(), 1000L)
                                .editStatus()
                                .withPhase("Failed")
                                .endStatus()
                                .build())
                        .crashed())
                .isTrue();
    }
}
