package io.mithril.agent.framework;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaDriverTest {

    @TempDir
    Path tmp;

    @Test
    void servesItsOwnDriversEntries_andEveryOtherFrameworks() {
        CudaDriver d = CudaDriver.of("550.54.15");
        assertThat(d.folder()).isEqualTo("cuda/driver-550.54.15");
        assertThat(d.serves("cuda/driver-550.54.15/ab/k1")).isTrue();
        assertThat(d.serves("cuda/driver-560.28.03/ab/k1")).isFalse();
        assertThat(d.serves("cuda/driver-550.54.1/ab/k1"))
                .as("a prefix of another version")
                .isFalse();
        assertThat(d.serves("inductor/ab/cabc.py")).isTrue();
    }

    @Test
    void versionIsSanitised_blankIsUnknown() {
        assertThat(CudaDriver.of("  550.54.15 ").version()).isEqualTo("550.54.15");
        assertThat(CudaDriver.of("../../etc").folder()).isEqualTo("cuda/driver-.._.._etc");
        assertThat(CudaDriver.of(" ")).isEqualTo(CudaDriver.UNKNOWN);
        assertThat(CudaDriver.of(null).version()).isEqualTo("unknown");
    }

    @Test
    void nodeDriver_overrideThenFullLabelThenPartsThenProcFile() throws Exception {
        Path proc = tmp.resolve("version");
        // the two forms the kernel module writes (proprietary and open), as on an H100 host
        Files.writeString(
                proc,
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
                        + "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n");
        assertThat(CudaDriver.ofNode(null, Map.of(), proc).version()).isEqualTo("550.54.15");
        Files.writeString(
                proc,
                "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.105.08  Release Build  (dvs-builder@U16)\n");
        assertThat(CudaDriver.ofNode(null, Map.of(), proc).version()).isEqualTo("580.105.08");
        Map<String, String> parts =
                Map.of(CudaDriver.LABEL_MAJOR, "535", CudaDriver.LABEL_MINOR, "104", CudaDriver.LABEL_REV, "12");
        assertThat(CudaDriver.ofNode(null, parts, proc).version()).isEqualTo("535.104.12");
        assertThat(CudaDriver.ofNode(
                                null,
                                Map.of(
                                        CudaDriver.LABEL_MAJOR,
                                        "550",
                                        CudaDriver.LABEL_MINOR,
                                        "120",
                                        CudaDriver.LABEL_REV,
                                        ""),
                                proc)
                        .version())
                .isEqualTo("550.120");
        assertThat(CudaDriver.ofNode(null, Map.of(CudaDriver.LABEL_FULL, "550.120", CudaDriver.LABEL_MAJOR, "1"), proc)
                        .version())
                .isEqualTo("550.120");
        assertThat(CudaDriver.ofNode("570.1", Map.of(CudaDriver.LABEL_FULL, "550.120"), proc)
                        .version())
                .isEqualTo("570.1");
        assertThat(CudaDriver.ofNode(null, Map.of(), tmp.resolve("absent"))).isEqualTo(CudaDriver.UNKNOWN);
    }

    @Test
    void prepare_makesTheFolderAndARelativeCurrentLink() throws Exception {
        Path view = Files.createDirectories(tmp.resolve("view/cuda"));
        CudaDriver.of("550.54.15").prepare(view.getParent());
        assertThat(Files.readSymbolicLink(view.resolve("current"))).isEqualTo(Path.of("driver-550.54.15"));
        assertThat(view.resolve("current")).isDirectory();
        CudaDriver.of("550.54.15").prepare(view.getParent()); // again: left as is
        assertThat(view.resolve("driver-550.54.15")).isDirectory();
    }
}
