package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.volume.Views;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PodVolumes} driven by hand: Pods as the API server would send them, no API server, a real
 * store and real folders, and a clock the test moves. Each step is checked by the state it leaves
 * the pod in ({@link PodState}) and by what it did on disk.
 */
class PodVolumesIT {

    @TempDir
    Path tmp;

    NodeStore store;
    Ingester ingester;
    PodVolumes volumes;
    final TestClock clock = new TestClock();
    final String uid = UUID.randomUUID().toString();

    /** A clock that moves only when told. */
    static final class TestClock extends Clock {
        volatile long millis = 1_800_000_000_000L;

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }

        void advance(Duration d) {
            millis += d.toMillis();
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        ingester = new Ingester(store, IngestLimits.defaults());
        Files.createDirectories(tmp.resolve("kubelet"));
        volumes = open();
    }

    /** The agent's PodVolumes on this node, as each start makes it; only CompileCache {@code gpt} exists. */
    PodVolumes open() throws Exception {
        NodeIdentity node =
                new NodeIdentity("gpu-1", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
        return new PodVolumes(
                store,
                ingester,
                new AgentMetrics(),
                tmp.resolve("volumes"),
                tmp.resolve("kubelet"),
                node,
                (ns, name) -> name.equals("gpt"),
                clock);
    }

    @AfterEach
    void tearDown() throws Exception {
        volumes.close();
        ingester.close();
        store.close();
    }

    /** An injected pod bound to gpu-1 in phase {@code phase}; {@code waitEnded}: its wait step gave up. */
    Pod pod(String phase, boolean waitEnded, String cache, String volume) {
        Map<String, String> a = new HashMap<>(Map.of(
                "mithril.io/injected",
                cache,
                "mithril.io/injected-frameworks",
                "Inductor",
                "mithril.io/injected-containers",
                "train"));
        if (volume != null) {
            a.put("mithril.io/injected-volume", volume);
        }
        PodBuilder b = new PodBuilder()
                .withNewMetadata()
                .withName("p")
                .withNamespace("team-a")
                .withUid(uid)
                .withAnnotations(a)
                .endMetadata()
                .withNewSpec()
                .withNodeName("gpu-1")
                .addNewContainer()
                .withName("train")
                .withImage("pytorch")
                .withNewSecurityContext()
                .withRunAsUser(1000L)
                .endSecurityContext()
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPhase(phase)
                .endStatus();
        if (waitEnded) {
            b.editStatus()
                    .addToInitContainerStatuses(new ContainerStatusBuilder()
                            .withName("mithril-wait")
                            .withNewState()
                            .withNewTerminated()
                            .withExitCode(0)
                            .endTerminated()
                            .endState()
                            .build())
                    .endStatus();
        }
        return b.build();
    }

    Pod waiting() {
        return pod("Pending", false, "gpt", null);
    }

    Path view() {
        return tmp.resolve("volumes").resolve(uid);
    }

    Path emptyDir() {
        return tmp.resolve("kubelet").resolve(uid).resolve(PodVolumes.EMPTY_DIR);
    }

    @Test
    void aWaitingPod_isLive_thenDone_neverPublishedAgain_andForgottenAnHourLater() throws Exception {
        volumes.observe(waiting());
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.LIVE);
        assertThat(Views.isReady(view())).isTrue();
        assertThat(volumes.livePods()).containsExactly(uid);

        volumes.observe(pod("Succeeded", true, "gpt", null));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        assertThat(view()).doesNotExist();
        assertThat(volumes.livePods()).isEmpty();

        volumes.observe(waiting()); // a stale event of the pod that ended
        volumes.gone(uid); // and its delete
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        assertThat(view()).doesNotExist();

        clock.advance(Duration.ofMinutes(59));
        volumes.ingestAll();
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        clock.advance(Duration.ofMinutes(2));
        volumes.ingestAll();
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.NEW);
    }

    @Test
    void aPodWhoseWaitStepEnded_runsCold_andItsFolderGoesWithIt() throws Exception {
        Files.createDirectories(view()); // kubelet's subPathExpr folder
        volumes.observe(pod("Running", true, "gpt", null));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.COLD);
        assertThat(view()).isEmptyDirectory();
        volumes.gone(uid);
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        assertThat(view()).doesNotExist();
    }

    @Test
    void aPodOfNoCompileCache_staysNew_andIsPublishedOnceItsCacheIsThere() throws Exception {
        volumes.observe(pod("Pending", false, "other", null));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.NEW);
        assertThat(view()).doesNotExist();
        volumes.observe(waiting());
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.LIVE);
    }

    @Test
    void anEmptyDirPod_awaitsKubeletsFolder_andIsPublishedAtThePassAfterItAppears() throws Exception {
        volumes.observe(pod("Pending", false, "gpt", "EmptyDir"));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.AWAITING_FOLDER);
        volumes.ingestAll();
        assertThat(volumes.stateOf(uid)).as("seen afresh, still no folder").isEqualTo(PodState.AWAITING_FOLDER);
        Files.createDirectories(emptyDir());
        volumes.ingestAll();
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.LIVE);
        assertThat(Views.isReady(emptyDir())).isTrue();
        volumes.gone(uid);
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        assertThat(emptyDir()).as("kubelet's folder: emptied, not removed").isEmptyDirectory();
    }

    @Test
    void anEmptyDirPod_whoseFolderIsReachedThroughALink_isRefused_andStaysRefused() throws Exception {
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.createDirectories(elsewhere.resolve(PodVolumes.EMPTY_DIR));
        Files.createSymbolicLink(tmp.resolve("kubelet").resolve(uid), elsewhere); // kubelet's pod folder, a link
        volumes.observe(pod("Pending", false, "gpt", "EmptyDir"));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.REFUSED);
        volumes.observe(pod("Pending", false, "gpt", "EmptyDir"));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.REFUSED);
        assertThat(elsewhere.resolve(PodVolumes.EMPTY_DIR)).isEmptyDirectory();
    }

    @Test
    void afterARestart_theViewOfAPodThatIsGone_isFinished_andThatOfOneThatRuns_adopted() throws Exception {
        volumes.observe(waiting());
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.LIVE);
        volumes.close(); // the agent stops; the view and its record stay
        volumes = open();
        volumes.recover(List.of(pod("Running", true, "gpt", null)));
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.LIVE);

        volumes.close(); // and again, the pod deleted meanwhile
        volumes = open();
        volumes.recover(List.of());
        assertThat(volumes.stateOf(uid)).isEqualTo(PodState.DONE);
        assertThat(view()).doesNotExist();
        assertThat(tmp.resolve("store/pods").resolve(uid)).doesNotExist();
    }
}
