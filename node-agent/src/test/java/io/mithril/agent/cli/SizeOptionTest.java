package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.store.FreeSpaceReserve;
import io.mithril.api.v1alpha1.Sizes;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** The agent's size options read a string as the shared rule does, which is what the operator reads a budget with. */
class SizeOptionTest {

    @ParameterizedTest
    @ValueSource(strings = {"20Gi", "1.5Mi", "500M", "10MiB", "10MB", "1048576", "7B", "1e3"})
    void sizeOptionsAndReserve_giveTheSharedRulesBytes(String text) {
        assertThat(new AgentMain.SizeConverter().convert(text)).isEqualTo(Sizes.parse(text));
        assertThat(FreeSpaceReserve.parse(text).bytes()).isEqualTo(Sizes.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ten", "10mb", "-1", "100m"})
    void badSize_isAPicocliConversionError(String text) {
        assertThatThrownBy(() -> new AgentMain.SizeConverter().convert(text))
                .isInstanceOf(CommandLine.TypeConversionException.class);
    }
}
