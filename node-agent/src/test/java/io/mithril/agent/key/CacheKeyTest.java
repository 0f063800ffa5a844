package io.mithril.agent.key;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.TimeZone;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheKeyTest {

    static CacheKey sample() {
        return new CacheKey(
                "fx-3f9a0c",
                List.of(
                        new CacheKey.TensorSpec(List.of(8L, 512L), "torch.int64"),
                        new CacheKey.TensorSpec(List.of(-1L, 1024L), "torch.bfloat16")),
                new DeviceClass.CudaCompute(9, 0));
    }

    /**
     * Golden value: computed once and frozen. If this changes, keys written by earlier agents no
     * longer match, which is a format change and needs a new version tag.
     */
    @Test
    void toStorageKey_goldenValue_isStable() {
        assertThat(sample().toStorageKey()).isEqualTo(GOLDEN);
    }

    static final String GOLDEN = "e2721274ef4fca5781a48244ee18050de0849da105d963e070c5a8bcdea32de9";

    /** The documented canonical encoding of {@link #sample()}, hashed by the reference b3sum. */
    @Test
    void golden_isB3sumOfTheDocumentedEncoding(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("encoding");
        java.nio.file.Files.writeString(
                f,
                "19:mithril.cachekey.v1;9:fx-3f9a0c;1:2;11:torch.int64;1:2;1:8;3:512;"
                        + "14:torch.bfloat16;1:2;2:-1;4:1024;8:cuda-9.0;");
        assertThat(io.mithril.agent.B3sum.of(f)).isEqualTo(GOLDEN);
    }

    @Test
    void toStorageKey_everyFieldMatters_andFieldBoundariesCannotCollide() {
        String base = sample().toStorageKey();
        assertThat(new CacheKey("fx-3f9a0d", sample().inputs(), sample().device()).toStorageKey())
                .isNotEqualTo(base);
        assertThat(new CacheKey(sample().graphHash(), sample().inputs(), new DeviceClass.CudaCompute(8, 0))
                        .toStorageKey())
                .isNotEqualTo(base);
        assertThat(new CacheKey(
                                sample().graphHash(),
                                List.of(
                                        sample().inputs().get(1),
                                        sample().inputs().get(0)),
                                sample().device())
                        .toStorageKey())
                .isNotEqualTo(base);
        // "ab" + "c" must not equal "a" + "bc"
        CacheKey a = new CacheKey(
                "g",
                List.of(new CacheKey.TensorSpec(List.of(12L), "f"), new CacheKey.TensorSpec(List.of(3L), "f")),
                new DeviceClass.Cpu());
        CacheKey b = new CacheKey("g", List.of(new CacheKey.TensorSpec(List.of(1L, 23L), "f")), new DeviceClass.Cpu());
        assertThat(a.toStorageKey()).isNotEqualTo(b.toStorageKey());
    }

    @Test
    void toStorageKey_ignoresLocaleAndTimeZoneOfThisProcess() {
        Locale l = Locale.getDefault();
        TimeZone tz = TimeZone.getDefault();
        try {
            Locale.setDefault(new Locale("tr", "TR"));
            TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Chatham"));
            assertThat(sample().toStorageKey()).isEqualTo(GOLDEN);
        } finally {
            Locale.setDefault(l);
            TimeZone.setDefault(tz);
        }
    }

    /** Another process with another host name, user, home, working directory, clock zone and locale. */
    @Test
    void toStorageKey_inAnotherMachineLikeProcess_isEqual(@TempDir Path dir) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Duser.name=someone-else",
                "-Duser.home=" + dir,
                "-Duser.timezone=Asia/Kathmandu",
                "-Duser.language=de",
                PrintKey.class.getName());
        pb.directory(dir.toFile());
        pb.environment().put("HOSTNAME", "gpu-node-17.example");
        pb.environment().put("USER", "someone-else");
        pb.environment().put("HOME", dir.toString());
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo(GOLDEN);
    }

    /** Child process entry point for the test above. */
    public static final class PrintKey {
        public static void main(String[] args) {
            System.out.println(sample().toStorageKey());
        }
    }
}
