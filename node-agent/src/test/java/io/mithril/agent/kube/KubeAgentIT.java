package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import io.mithril.agent.volume.Views;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.DeletionPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent in Kubernetes mode against fabric8's mock API server (CRUD mode) and real folders: the
 * mock stands in for the API server, the test for kubelet and the workload (it writes what a
 * compiler would into the view folder the pod's subPathExpr mount resolves to).
 */
@EnableKubernetesMockClient(crud = true)
class KubeAgentIT {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;
    NodeStore store;
    KubeAgent agent;
    AgentMetrics metrics;
    final String ns = "team-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void setUp() throws Exception {
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName("gpu-1")
                .withLabels(Map.of(NodeIdentity.LABEL_MAJOR, "9", NodeIdentity.LABEL_MINOR, "0",
                        NodeIdentity.LABEL_PRODUCT, "NVIDIA-H100-80GB-HBM3")).endMetadata().build()).createOr(r -> r.update());
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget("64Mi");
        cc.setSpec(spec);
        client.resource(cc).create();
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        startAgent();
    }

    void startAgent() throws Exception {
        metrics = new AgentMetrics();
        agent = new KubeAgent(client, store, metrics, new KubeAgent.Config("gpu-1", tmp.resolve("volumes"), null, null,
                Duration.ofMillis(200), IngestLimits.defaults(), false)); // the mock has no spec.nodeName field selector
        agent.start();
        await().atMost(Duration.ofSeconds(20)).until(agent::synced);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (agent != null) {
            agent.close();
        }
        store.close();
        client.pods().inAnyNamespace().delete(); // the mock API server lives for the whole class
        client.resources(CompileCache.class).inAnyNamespace().delete();
    }

    Pod pod(String name, String node) {
        return pod(name, node, "gpt");
    }

    Pod pod(String name, String node, String cache) {
        return client.pods().inNamespace(ns).resource(new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).withUid(UUID.randomUUID().toString())
                .withAnnotations(Map.of("mithril.io/cache", "enabled", "mithril.io/injected", cache,
                        "mithril.io/injected-frameworks", "Inductor,Triton", "mithril.io/injected-containers", "train"))
                .endMetadata()
                .withNewSpec().withNodeName(node).addNewContainer().withName("train").withImage("pytorch")
                .withNewSecurityContext().withRunAsUser(1000L).endSecurityContext().endContainer().endSpec()
                .withNewStatus().withPhase("Pending").endStatus().build()).create();
    }

    Path view(Pod p) {
        return tmp.resolve("volumes").resolve(p.getMetadata().getUid());
    }

    GroupId group() {
        return agent.volumes().node().group(ns, "gpt");
    }

    StoreStats.Group groupStats() throws Exception {
        return store.stats().groups().stream().filter(g -> g.group().equals(group())).findFirst().orElse(null);
    }

    /** What a compiler writes: one generated Inductor module. */
    static void compileInto(Path view, String name, String code) throws Exception {
        Path dir = Files.createDirectories(view.resolve("inductor/ab"));
        Path tmpFile = dir.resolve(name + ".tmp");
        Files.writeString(tmpFile, code);
        Files.move(tmpFile, dir.resolve(name));
    }

    @Test
    void podBoundHere_getsItsViewAndMarker_podBoundElsewhere_doesNot() throws Exception {
        Pod here = pod("here", "gpu-1");
        Pod there = pod("there", "gpu-2");
        Pod forged = pod("forged", "gpu-1", "no-such-cache"); // annotations set by hand, no CompileCache
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(here)));
        assertThat(view(here).resolve("inductor")).isDirectory();
        assertThat(Files.getAttribute(view(here).resolve("inductor"), "unix:uid")).isEqualTo(1000);
        Thread.sleep(500);
        assertThat(view(there)).doesNotExist();
        assertThat(view(forged)).doesNotExist();
        assertThat(agent.volumes().livePods()).containsExactly(here.getMetadata().getUid());
        assertThat(agent.volumes().node().device().text()).isEqualTo("cuda-9.0");
        assertThat(groupStats() == null ? null : groupStats().budget()).isNull(); // no entries yet: no group row
        assertThat(store.config()).isNotNull();
    }

    @Test
    void deletedPod_isIngested_thenItsViewRemoved_andTheNextPodReadsIt() throws Exception {
        Pod first = pod("first", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(first)));
        compileInto(view(first), "cabc.py", "def kernel(): return 42\n");
        client.pods().inNamespace(ns).withName("first").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(first)));
        assertThat(groupStats().entries()).isEqualTo(1);
        assertThat(groupStats().budget()).isEqualTo(64L << 20); // from the CompileCache's spec.budget
        CompileCache cc = client.resources(CompileCache.class).inNamespace(ns).withName("gpt").get();
        cc.getSpec().setBudget("1.5Mi"); // a fraction of a unit: 1572864 bytes, not "no budget"
        client.resource(cc).update();
        await().atMost(Duration.ofSeconds(20)).until(() -> Long.valueOf(1572864L).equals(groupStats().budget()));
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);

        Pod second = pod("second", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(second)));
        assertThat(Files.readString(view(second).resolve("inductor/ab/cabc.py"))).contains("return 42");
        Files.readAllBytes(view(second).resolve("inductor/ab/cabc.py")); // the workload reads it: a hit
        client.pods().inNamespace(ns).withName("second").editStatus(p -> {
            p.getStatus().setPhase("Succeeded");
            return p;
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(second)));
        assertThat(metrics.groupCounts(group()).hits()).isEqualTo(1);
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);
    }

    @Test
    void agentRestartedInTheMiddle_adoptsLiveViews_finishesGoneOnes_publishesNewOnes() throws Exception {
        Pod stays = pod("stays", "gpu-1");
        Pod goes = pod("goes", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(stays)) && Views.isReady(view(goes)));
        compileInto(view(goes), "cgone.py", "x = 'compiled by the pod that ended'\n");
        agent.close(); // the agent stops (or crashes) here; kubelet goes on
        agent = null;
        client.pods().inNamespace(ns).withName("goes").delete();
        Pod arrives = pod("arrives", "gpu-1");
        compileInto(view(stays), "cstay.py", "x = 'compiled while the agent was away'\n");

        startAgent();
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(arrives)));
        assertThat(view(goes)).doesNotExist();
        assertThat(store.entries(group())).anyMatch(e -> e.key().name().equals("inductor/ab/cgone.py"));
        assertThat(agent.volumes().livePods()).contains(stays.getMetadata().getUid(), arrives.getMetadata().getUid());
        await().atMost(Duration.ofSeconds(20)).until(() -> store.entries(group()).stream()
                .anyMatch(e -> e.key().name().equals("inductor/ab/cstay.py"))); // periodic ingest of the adopted view
        client.pods().inNamespace(ns).withName("stays").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(stays)));
        assertThat(tmp.resolve("store/pods").resolve(stays.getMetadata().getUid())).doesNotExist();
        assertThat(metrics.groupCounts(group()).misses()).as("counts survive the restart").isEqualTo(2);
        agent.close();
        startAgent(); // a second restart with nothing in flight: the counts are read back, not lost
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(2);
    }

    @Test
    void compileCacheDeleted_withDelete_dropsItsEntries_withRetain_keepsThem() throws Exception {
        Pod p = pod("p", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(p)));
        compileInto(view(p), "ckeep.py", "y = 1\n");
        client.pods().inNamespace(ns).withName("p").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(p)));
        assertThat(store.entries(group())).hasSize(1);

        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete(); // default policy: Retain
        Thread.sleep(1000);
        assertThat(store.entries(group())).hasSize(1);

        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setDeletionPolicy(DeletionPolicy.Delete);
        spec.setBudget("32Mi");
        cc.setSpec(spec);
        client.resource(cc).create();
        await().atMost(Duration.ofSeconds(20)).until(() -> groupStats() != null && Long.valueOf(32L << 20).equals(groupStats().budget()));
        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> store.entries(group()).isEmpty());
    }
}
