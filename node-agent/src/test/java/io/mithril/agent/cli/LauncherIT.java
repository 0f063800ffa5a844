package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.B3sum;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/mithril-agent} runs the packaged jar as a real process (failsafe runs after package). */
class LauncherIT {

    @TempDir
    Path tmp;

    @Test
    void launcher_putsAFileAndPrintsTheB3sumAddress() throws Exception {
        Path launcher = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/mithril-agent");
        Path f = Files.writeString(tmp.resolve("x.txt"), "hello mithril\n");
        Path root = Files.createDirectory(tmp.resolve("root"));
        Process p = new ProcessBuilder(launcher.toString(), "--root", root.toString(), "store", "put", f.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        assertThat(out).isEqualTo(B3sum.of(f));
    }
}
