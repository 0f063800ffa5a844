package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The serve command's settings as parsed from flags (defaults from the environment are not set in tests). */
class ServeCmdTest {

    static ServeCmd parse(String... args) {
        ServeCmd cmd = new ServeCmd();
        new CommandLine(cmd).parseArgs(args);
        return cmd;
    }

    @Test
    void nodeFieldSelector_isOnByDefault_andOffWhenSaidSo() {
        assertThat(parse().nodeFieldSelector).isTrue();
        assertThat(parse("--node-field-selector=false").nodeFieldSelector).isFalse();
        assertThat(parse("--node-field-selector", "true").nodeFieldSelector).isTrue();
    }

    @Test
    void ingestInterval_acceptsUnits_andRefusesNonsense() {
        assertThat(ServeCmd.duration("500ms").toMillis()).isEqualTo(500);
        assertThat(ServeCmd.duration("2m").toSeconds()).isEqualTo(120);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCmd.duration("10 parsecs"))
                .hasMessageContaining("500ms, 10s or 2m");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCmd.duration("5ms"))
                .hasMessageContaining("at least 100ms");
    }
}
