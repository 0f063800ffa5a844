package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mithril.agent.B3sum;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/mithril-agent} runs the packaged jar as a real process (failsafe runs after package). */
class LauncherIT {

    @TempDir
    Path tmp;

    static final Path LAUNCHER =
            Path.of(System.getProperty("user.dir")).getParent().resolve("bin/mithril-agent");
    static final Path TARGET = Path.of(System.getProperty("user.dir")).resolve("target");

    record Run(int exit, String out, String err) {}

    /** The launcher with extra environment, its output and errors (files, so no pipe can fill). */
    Run launch(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("XDG_CACHE_HOME", tmp.resolve("xdg").toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The packaged jar, lib/ and (when the build made it) the archive, copied to {@code dir}; the copy's jar. */
    static Path copyOfTheBuild(Path dir, boolean withArchive) throws Exception {
        Files.createDirectories(dir.resolve("lib"));
        try (Stream<Path> libs = Files.list(TARGET.resolve("lib"))) {
            for (Path l : libs.toList()) {
                Files.copy(l, dir.resolve("lib").resolve(l.getFileName()));
            }
        }
        Path jar = Files.copy(
                TARGET.resolve("mithril-agent.jar"),
                dir.resolve("mithril-agent.jar"),
                StandardCopyOption.COPY_ATTRIBUTES);
        if (withArchive) {
            Files.copy(TARGET.resolve("mithril-agent.jsa"), dir.resolve("mithril-agent.jsa"));
            Files.copy(TARGET.resolve("mithril-agent.jsa.size"), dir.resolve("mithril-agent.jsa.size"));
        }
        return jar;
    }

    static void assumeArchiveBuilt() {
        assumeTrue(
                Files.isRegularFile(TARGET.resolve("mithril-agent.jsa")),
                "the build made no CDS archive (-Dmithril.cds.skip)");
    }

    @Test
    void launcher_startsExecWithTheBuildsArchive() throws Exception {
        assumeArchiveBuilt();
        Path log = tmp.resolve("classes.txt");
        Path root = Files.createDirectory(tmp.resolve("root"));
        Run r = launch(
                Map.of("MITHRIL_JAVA_OPTS", "-XX:+UseSerialGC -Xlog:class+load=info:file=" + log),
                "--root",
                root.toString(),
                "exec",
                "--",
                "true");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(Files.readAllLines(log))
                .filteredOn(l -> l.contains(" io.mithril.agent.cli.ExecCmd "))
                .singleElement()
                .asString()
                .contains("shared objects file (top)");
    }

    /** A missing, truncated, damaged or foreign archive: the agent starts without it and nothing is said about it. */
    @Test
    void launcher_withoutAUsableArchive_startsWithoutIt_silently() throws Exception {
        assumeArchiveBuilt();
        List<String> cases = List.of("missing", "truncated", "damaged", "empty", "moved");
        for (String c : cases) {
            Path jar = copyOfTheBuild(tmp.resolve(c), !c.equals("missing"));
            Path jsa = tmp.resolve(c).resolve("mithril-agent.jsa");
            byte[] bytes = c.equals("missing") ? null : Files.readAllBytes(jsa);
            if (bytes != null) {
                jsa.toFile().setWritable(true, true); // the build leaves it read-only
            }
            switch (c) {
                case "truncated" -> Files.write(jsa, java.util.Arrays.copyOf(bytes, bytes.length / 3));
                case "damaged" -> { // same size, bytes changed inside the archive's regions
                    for (int i = bytes.length / 2; i < bytes.length / 2 + 4096; i++) {
                        bytes[i] ^= 0x5a;
                    }
                    Files.write(jsa, bytes);
                }
                case "empty" -> Files.write(jsa, new byte[0]);
                default -> {} // missing; moved: a whole archive, made for the jar at another path
            }
            Run r = launch(Map.of("MITHRIL_AGENT_JAR", jar.toString()), "--version");
            assertThat(r.exit()).as(c + ": " + r.err()).isZero();
            assertThat(r.out().trim()).as(c).isEqualTo("mithril-agent 0.1.0");
            assertThat(r.err()).as(c).isEmpty();
        }
    }

    /** Another JVM than the one that made the archive (another version refuses it by its header). */
    @Test
    void launcher_withAnotherJvm_startsWithoutTheArchive_silently() throws Exception {
        assumeArchiveBuilt();
        Path ours = Path.of(System.getProperty("java.home")).toRealPath();
        Path other = null;
        try (Stream<Path> jvms = Files.list(Path.of("/usr/lib/jvm"))) {
            for (Path j : jvms.sorted().toList()) {
                Path java = j.resolve("bin/java");
                if (Files.isExecutable(java) && !j.toRealPath().equals(ours)) {
                    other = java;
                }
            }
        } catch (java.io.IOException e) {
            other = null;
        }
        assumeTrue(other != null, "no second JVM under /usr/lib/jvm");
        Run r = launch(Map.of("JAVA", other.toString()), "--version");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().trim()).isEqualTo("mithril-agent 0.1.0");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void launcher_putsAFileAndPrintsTheB3sumAddress() throws Exception {
        Path launcher = LAUNCHER;
        Path f = Files.writeString(tmp.resolve("x.txt"), "hello mithril\n");
        Path root = Files.createDirectory(tmp.resolve("root"));
        Process p = new ProcessBuilder(launcher.toString(), "--root", root.toString(), "store", "put", f.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        assertThat(out).isEqualTo(B3sum.of(f));
    }
}
