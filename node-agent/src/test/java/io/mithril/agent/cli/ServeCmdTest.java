package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
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
    void remoteRetention_defaultsHourly_withAGraceAndALease_andCanBeTurnedOff() {
        ServeCmd d = parse();
        assertThat(ServeCmd.duration(d.retentionInterval)).isEqualTo(Duration.ofHours(1));
        assertThat(ServeCmd.duration(d.retentionGrace)).isEqualTo(Duration.ofHours(1));
        assertThat(ServeCmd.duration(d.retentionLease)).isEqualTo(Duration.ofMinutes(15));
        assertThat(parse("--remote-retention-interval=off").retentionInterval).isEqualTo("off");
        assertThat(parse("--remote-retention-namespace", "mithril-system").retentionNamespace)
                .isEqualTo("mithril-system");
    }

    @Test
    void ingestInterval_acceptsUnits_andRefusesNonsense() {
        assertThat(ServeCmd.duration("500ms").toMillis()).isEqualTo(500);
        assertThat(ServeCmd.duration("2m").toSeconds()).isEqualTo(120);
        assertThat(ServeCmd.duration("1h").toMinutes()).isEqualTo(60);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCmd.duration("10 parsecs"))
                .hasMessageContaining("500ms, 10s, 2m or 1h");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ServeCmd.duration("5ms"))
                .hasMessageContaining("at least 100ms");
    }
}
