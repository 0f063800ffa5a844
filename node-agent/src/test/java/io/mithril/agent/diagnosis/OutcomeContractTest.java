package io.mithril.agent.diagnosis;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.api.v1alpha1.PodStarts;
import org.junit.jupiter.api.Test;

/** The agent's outcome keys are the CompileCache status's podStarts fields: the operator copies one into the other. */
class OutcomeContractTest {

    @Test
    void everyOutcomeKey_isAPodStartsField() {
        PodStarts p = new PodStarts();
        for (Outcome o : Outcome.values()) {
            assertThat(p.set(o.key(), 3L)).as(o.key()).isTrue();
            assertThat(Outcome.ofKey(o.key())).isEqualTo(o);
        }
        assertThat(p.counts())
                .hasSize(Outcome.values().length)
                .allSatisfy((k, v) -> assertThat(v).isEqualTo(3L));
    }
}
