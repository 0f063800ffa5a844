package io.mithril.agent.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.Path;
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
        return ViewSession.publish(views, ingester, StoreFixture.H100, tmp.resolve(name), IT, Views.Owner.CURRENT, mode,
                CudaDriver.UNKNOWN, "test:" + name, false);
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
        assertThat(store.entries(StoreFixture.H100)).extracting(e -> e.key().name()).containsExactly("inductor/ab/cabcdef.py");
        assertThat(s.view().file("inductor/ab/cabcdef.py").ingested()).as("the view records what ingest took").isTrue();
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
        Entry seeded = StoreFixture.commit(store, StoreFixture.H100, "inductor/fxgraph/ab/fabc/", StoreFixture.bytes(1, 100));
        ViewSession s = open("dropped", PublishMode.LINK);
        assertThat(s.view().entries()).containsExactly(seeded.key());
        Path py = s.view().dir().resolve("inductor/ab/cnew.py");
        Files.createDirectories(py.getParent());
        Files.writeString(py, "x = 1\n");

        ViewSession.Result r = s.endWithoutIngest();

        assertThat(r.last()).isNull();
        assertThat(r.committed()).isEmpty();
        assertThat(store.entries(StoreFixture.H100)).extracting(Entry::key).containsExactly(seeded.key());
        assertThat(store.delete(seeded.key())).as("no pin left on the published entry").isTrue();
    }
}
