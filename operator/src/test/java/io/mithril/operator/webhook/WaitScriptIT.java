package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.api.v1alpha1.Framework;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The init step's script, run by a real {@code sh} on real folders standing in for the two mounts. */
class WaitScriptIT {

    @TempDir
    Path tmp;

    record Run(int code, String out) {}

    Run run(Injection inj, int timeout) throws Exception {
        return run(inj, timeout, List.of(Framework.Inductor, Framework.Triton));
    }

    Run run(Injection inj, int timeout, List<Framework> frameworks) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", PodMutator.waitScript(inj, timeout, frameworks))
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    Injection layout() throws Exception {
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        Path view = Files.createDirectories(tmp.resolve("view"));
        return new Injection(cache.toString(), view.toString(), "/unused", "busybox");
    }

    @Test
    void markerPresent_linksEachFrameworkFolderToTheView() throws Exception {
        Injection inj = layout();
        Files.createDirectories(Path.of(inj.viewPath(), "inductor"));
        Files.writeString(Path.of(inj.viewPath(), ".mithril-ready"), "ok");
        Run r = run(inj, 5);
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("cache view ready");
        assertThat(Files.readSymbolicLink(Path.of(inj.mountPath(), "inductor")))
                .isEqualTo(Path.of(inj.viewPath(), "inductor"));
        assertThat(Files.readSymbolicLink(Path.of(inj.mountPath(), "triton")))
                .isEqualTo(Path.of(inj.viewPath(), "triton"));
        // a restarted init step finds the links and leaves them
        assertThat(run(inj, 5).code()).isZero();
        assertThat(Files.isSymbolicLink(Path.of(inj.mountPath(), "inductor"))).isTrue();
    }

    @Test
    void cudaJit_linksTheCudaFolder_soTheVariablesCurrentResolvesToTheDriversFolderInTheView() throws Exception {
        Injection inj = layout();
        Path driver = Files.createDirectories(Path.of(inj.viewPath(), "cuda", "driver-570.86.15"));
        Files.createSymbolicLink(Path.of(inj.viewPath(), "cuda", "current"), Path.of("driver-570.86.15"));
        Files.writeString(Path.of(inj.viewPath(), ".mithril-ready"), "ok");
        assertThat(run(inj, 5, List.of(Framework.CudaJIT)).code()).isZero();
        assertThat(Files.readSymbolicLink(Path.of(inj.mountPath(), "cuda"))).isEqualTo(Path.of(inj.viewPath(), "cuda"));
        Path variable = Path.of(inj.mountPath(), Framework.CudaJIT.podPath()); // CUDA_CACHE_PATH
        assertThat(variable.toRealPath()).isEqualTo(driver.toRealPath());
    }

    @Test
    void noMarker_givesUpAfterTheTimeout_exitsZero_andLeavesTheCachePrivate() throws Exception {
        Injection inj = layout();
        Run r = run(inj, 1);
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("no cache view after 1s; starting cold");
        try (var s = Files.list(Path.of(inj.mountPath()))) {
            assertThat(s).isEmpty();
        }
    }

    @Test
    void emptyDirMode_waitsForTheMarkerInTheCanonicalFolder_andLinksNothing() throws Exception {
        Injection inj = layout().withMode(VolumeMode.EmptyDir);
        Files.createDirectories(Path.of(inj.mountPath(), "inductor"));
        Files.writeString(Path.of(inj.mountPath(), ".mithril-ready"), "ok");
        Run r = run(inj, 5);
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("cache view ready");
        assertThat(Files.isSymbolicLink(Path.of(inj.mountPath(), "inductor"))).isFalse();
        Files.delete(Path.of(inj.mountPath(), ".mithril-ready"));
        Run cold = run(inj, 1);
        assertThat(cold.code()).isZero();
        assertThat(cold.out()).contains("starting cold");
    }

    @Test
    void userFolderAlreadyThere_isNotReplaced() throws Exception {
        Injection inj = layout();
        Files.createDirectories(Path.of(inj.mountPath(), "inductor"));
        Files.writeString(Path.of(inj.viewPath(), ".mithril-ready"), "ok");
        assertThat(run(inj, 5).code()).isZero();
        assertThat(Files.isSymbolicLink(Path.of(inj.mountPath(), "inductor"))).isFalse();
        assertThat(Files.isSymbolicLink(Path.of(inj.mountPath(), "triton"))).isTrue();
    }
}
