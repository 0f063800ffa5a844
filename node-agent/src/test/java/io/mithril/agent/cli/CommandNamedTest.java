package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** A command line that names a subcommand gets only that one built; any other gets all of them. */
class CommandNamedTest {

    static String named(String... args) {
        return AgentMain.commandNamed(new CommandLine(new AgentMain(System.out)).getCommandSpec(), args);
    }

    @Test
    void theFirstArgumentThatIsNoTopOptionNorItsValue_namesTheCommand() {
        assertThat(named("exec", "--", "true")).isEqualTo("exec");
        assertThat(named("--root", "/r", "exec", "--", "true")).isEqualTo("exec");
        assertThat(named("--root=/r", "--budget", "1Gi", "stats")).isEqualTo("stats");
        assertThat(named("--root", "exec", "gc")).isEqualTo("gc"); // a value that reads like a command
        assertThat(named("--min-free", "15%", "serve")).isEqualTo("serve");
    }

    @Test
    void noKnownCommand_namesNone() {
        assertThat(named()).isNull();
        assertThat(named("nonsense")).isNull();
        assertThat(named("--help")).isNull();
        assertThat(named("--nonesuch", "exec")).isNull();
        assertThat(named("--", "exec")).isNull();
    }

    @Test
    void help_stillListsEveryCommand() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(AgentMain.run(new String[] {"--help"}, out, new ByteArrayOutputStream()))
                .isZero();
        assertThat(out.toString(StandardCharsets.UTF_8))
                .contains("exec ", "serve ", "store ", "stats ", "verify ", "gc ");
    }
}
