package io.mithril.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** The reference BLAKE3 implementation (Debian's {@code b3sum}), which {@code .ci/run} installs. */
public final class B3sum {
    private B3sum() {}

    public static String of(Path f) throws Exception {
        Process p = new ProcessBuilder("b3sum", "--no-names", f.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue())
                .as("b3sum (Debian package b3sum) must be installed: %s", out)
                .isZero();
        return out;
    }
}
