package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the exec client decides before it asks an agent, and what it reads of processes. */
class ExecClientTest {

    @TempDir
    Path tmp;

    @Test
    void rootOf_findsTheRootBeforeOrAfterExec_andStopsAtTheCommand() {
        assertThat(ExecClient.rootOf(new String[] {"--root", "/a", "exec", "--", "true"}))
                .isEqualTo("/a");
        assertThat(ExecClient.rootOf(new String[] {"exec", "--cache", "x", "--root=/b", "--", "true"}))
                .isEqualTo("/b");
        assertThat(ExecClient.rootOf(new String[] {"--root", "/a", "exec", "--root", "/c", "--", "true"}))
                .as("the later one wins, as in AgentMain")
                .isEqualTo("/c");
        assertThat(ExecClient.rootOf(new String[] {"--root", "/a", "exec", "--", "tool", "--root", "/d"}))
                .as("the command's own arguments are not the agent's")
                .isEqualTo("/a");
        assertThat(ExecClient.rootOf(new String[] {"exec", "--cache", "--root", "--", "true"}))
                .as("--root as the value of --cache")
                .isNotEqualTo("--");
    }

    @Test
    void rootOf_isNullForWhatIsNotAPlainExec() {
        assertThat(ExecClient.rootOf(new String[] {"stats"})).isNull();
        assertThat(ExecClient.rootOf(new String[] {"exec", "--help"})).isNull();
        assertThat(ExecClient.rootOf(new String[] {"exec", "-h"})).isNull();
        assertThat(ExecClient.rootOf(new String[] {"--version"})).isNull();
        assertThat(ExecClient.rootOf(new String[] {"--root"})).isNull();
        assertThat(ExecClient.rootOf(new String[] {})).isNull();
    }

    @Test
    void rootOf_withoutTheOption_isTheDefaultAgentMainUses() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        String expected = System.getenv("MITHRIL_ROOT") != null
                ? System.getenv("MITHRIL_ROOT")
                : new File(
                                xdg != null && !xdg.isEmpty()
                                        ? new File(xdg)
                                        : new File(System.getProperty("user.home"), ".cache"),
                                "mithril")
                        .getPath();
        assertThat(ExecClient.rootOf(new String[] {"exec", "--", "true"})).isEqualTo(expected);
    }

    @Test
    void processFacts_areReadFromProc() throws Exception {
        String self = Long.toString(ProcessHandle.current().pid());
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] afterName = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        assertThat(ExecProtocol.startTime(self)).isEqualTo(afterName[19]);
        String uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid").toString();
        assertThat(ExecProtocol.euid(self)).isEqualTo(uid);
        assertThat(ExecProtocol.startTime("999999999")).isNull();
        assertThat(ExecProtocol.euid("999999999")).isNull();
        assertThat(ExecProtocol.readSmall(tmp.resolve("absent").toFile())).isNull();
    }
}
