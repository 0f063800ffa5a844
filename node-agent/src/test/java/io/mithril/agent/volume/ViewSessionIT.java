package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One view's life through {@link ViewSession}: publish, passes, end. */
class ViewSessionIT {

    static final Set<Framework> IT = Set.of(Framework.INDUCTOR, Framework.TRITON);

    @TempDir
    Path tmp;

    NodeStore store;
    Views views;
    Ingester ingester;

    @BeforeEach
    void setUp() throws Exception {
        store = NodeStore.open(Files.createDirectory(tmp.resolve("store")), StoreConfig.defaults());
        views = new Views(store);
        ingester = new Ingester(store, IngestLimits.defaults());
    }

    @AfterEach
    void tearDown() throws Exception {
        views.close();
        ingester.close();
        store.close();
    }

    ViewSession open(String name, PublishMode mode) throws Exception {
        return ViewSession.publish(
                views,
                ingester,
                StoreFixture.H100,
                tmp.resolve(name),
                IT,
                Views.Owner.CURRENT,
                mode,
                CudaDriver.UNKNOWN,
                "test:" + name,
                false);
    }

    @Test
    void end_takesWhatTheWorkloadWrote_unpublishes_andDiagnosesACompile() throws Exception {
        ViewSession s = open("cold", PublishMode.COPY);
        assertThat(s.view().entries()).isEmpty();
        Path py = s.view().dir().resolve("inductor/ab/cabcdef.py");
        Files.createDirectories(py.getParent());
        Files.writeString(py, "print('compiled')\n");

        ViewSession.Result r = s.end(Pass.SUCCEEDED);

        assertThat(r.committed()).containsExactly("inductor/ab/cabcdef.py");
        assertThat(r.total().entries()).isEqualTo(1);
        assertThat(r.last()).isNotNull();
        assertThat(r.last().entries()).isEqualTo(1);
        assertThat(r.read()).isEmpty();
        assertThat(r.failures()).isEmpty();
        assertThat(r.why().outcome()).isEqualTo(Outcome.NOTHING_PUBLISHED);
        assertThat(s.view().dir()).doesNotExist();
        assertThat(store.entries(StoreFixture.H100))
                .extracting(e -> e.key().name())
                .containsExactly("inductor/ab/cabcdef.py");
        assertThat(s.view().file("inductor/ab/cabcdef.py").ingested())
                .as("the view records what ingest took")
                .isTrue();
    }

    @Test
    void aSessionEndsOnce_andTakesNoPassAfterItsEnd() throws Exception {
        ViewSession s = open("once", PublishMode.LINK);
        s.end(Pass.SUCCEEDED);
        assertThat(s.pass()).isNull();
        assertThatThrownBy(() -> s.end(Pass.SUCCEEDED)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(s::endWithoutIngest).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void endWithoutIngest_takesNothing_butStillUnpins() throws Exception {
        Entry seeded =
                StoreFixture.commit(store, StoreFixture.H100, "inductor/fxgraph/ab/fabc/", StoreFixture.bytes(1, 100));
        ViewSession s = open("dropped", PublishMode.LINK);
        assertThat(s.view().entries()).containsExactly(seeded.key());
        Path py = s.view().dir().resolve("inductor/ab/cnew.py");
        Files.createDirectories(py.getParent());
        Files.writeString(py, "x = 1\n");

        ViewSession.Result r = s.endWithoutIngest();

        assertThat(r.last()).isNull();
        assertThat(r.committed()).isEmpty();
        assertThat(store.entries(StoreFixture.H100)).extracting(Entry::key).containsExactly(seeded.key());
        assertThat(store.delete(seeded.key()))
                .as("no pin left on the published entry")
                .isTrue();
    }

    @Test
    void theExecutableBit_aWorkloadGaveAFile_survivesIngestAndTheNextPublish() throws Exception {
        ViewSession cold = open("cold", PublishMode.COPY);
        Path so = cold.view().dir().resolve("inductor/ab/cabc.so");
        Path py = cold.view().dir().resolve("inductor/ab/cabc.py");
        Files.createDirectories(so.getParent());
        Files.write(so, StoreFixture.bytes(7, 4096));
        Files.setPosixFilePermissions(so, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(py, "y = 2\n");
        cold.end(Pass.SUCCEEDED);

        for (PublishMode mode : PublishMode.values()) {
            ViewSession warm = open("warm-" + mode, mode);
            assertThat(warm.view().entries())
                    .extracting(EntryKey::name)
                    .containsExactlyInAnyOrder("inductor/ab/cabc.so", "inductor/ab/cabc.py");
            Set<PosixFilePermission> soMode =
                    Files.getPosixFilePermissions(warm.view().dir().resolve("inductor/ab/cabc.so"));
            Set<PosixFilePermission> pyMode =
                    Files.getPosixFilePermissions(warm.view().dir().resolve("inductor/ab/cabc.py"));
            assertThat(soMode).as(mode + ": the .so stays executable").contains(PosixFilePermission.OWNER_EXECUTE);
            assertThat(pyMode)
                    .as(mode + ": the .py was not executable")
                    .doesNotContain(PosixFilePermission.OWNER_EXECUTE);
            warm.end(Pass.SUCCEEDED);
        }
    }

    @Test
    void close_endsThePublishThreads() throws Exception {
        java.util.List<io.mithril.agent.store.NodeStore.Pending> many = new java.util.ArrayList<>();
        for (int i = 0; i < 1200; i++) { // above the size a publish runs on the caller's thread
            byte[] b = ("x = " + i + "\n").getBytes();
            var w = store.put(new java.io.ByteArrayInputStream(b), b.length);
            many.add(new io.mithril.agent.store.NodeStore.Pending(
                    new EntryKey(StoreFixture.H100, "inductor/ab/c" + i + ".py"),
                    java.util.List.of(
                            new io.mithril.agent.index.EntryFile("c" + i + ".py", w.address(), w.size(), false)),
                    "test"));
        }
        store.commitAll(many);
        ViewSession s = open("many", PublishMode.LINK);
        assertThat(s.view().entries()).hasSize(1200);
        assertThat(publishThreads()).as("the publish ran on its pool").isPositive();
        s.end(Pass.SUCCEEDED);
        views.close();
        org.awaitility.Awaitility.await()
                .atMost(java.time.Duration.ofSeconds(10))
                .until(() -> publishThreads() == 0);
    }

    static long publishThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("mithril-publish") && t.isAlive())
                .count();
    }
}
