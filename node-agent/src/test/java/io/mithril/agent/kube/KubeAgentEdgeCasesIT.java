package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
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
import io.mithril.agent.volume.Views;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.DeletionPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Edge cases a review found, each once a failing test: a CompileCache deleted and created again
 * while the agent's pool is busy, the folder of a pod that never got a view, a copy view adopted
 * after a restart.
 */
@EnableKubernetesMockClient(crud = true)
class KubeAgentEdgeCasesIT {

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
        createCache(DeletionPolicy.Delete);
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        startAgent();
    }

    void createCache(DeletionPolicy policy) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget("64Mi");
        spec.setDeletionPolicy(policy);
        cc.setSpec(spec);
        client.resource(cc).create();
    }

    void startAgent() throws Exception {
        metrics = new AgentMetrics();
        agent = new KubeAgent(client, store, metrics, new KubeAgent.Config("gpu-1", tmp.resolve("volumes"), null, null,
                Duration.ofMillis(200), IngestLimits.defaults(), false));
        agent.start();
        await().atMost(Duration.ofSeconds(20)).until(agent::synced);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (agent != null) {
            agent.close();
        }
        store.close();
        client.pods().inAnyNamespace().delete();
        client.resources(CompileCache.class).inAnyNamespace().delete();
    }

    Pod pod(String name, Long runAsUser, boolean waitEnded) {
        PodBuilder b = new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).withUid(UUID.randomUUID().toString())
                .withAnnotations(Map.of("mithril.io/cache", "enabled", "mithril.io/injected", "gpt",
                        "mithril.io/injected-frameworks", "Inductor,Triton", "mithril.io/injected-containers", "train"))
                .endMetadata()
                .withNewSpec().withNodeName("gpu-1").addNewContainer().withName("train").withImage("pytorch")
                .withNewSecurityContext().withRunAsUser(runAsUser).endSecurityContext().endContainer().endSpec()
                .withNewStatus().withPhase(waitEnded ? "Running" : "Pending").endStatus();
        if (waitEnded) {
            b.editStatus().addToInitContainerStatuses(new ContainerStatusBuilder().withName("mithril-wait")
                    .withNewState().withNewTerminated().withExitCode(0).endTerminated().endState().build()).endStatus();
        }
        return b.build();
    }

    Pod create(Pod p) {
        return client.pods().inNamespace(ns).resource(p).create();
    }

    Path view(Pod p) {
        return tmp.resolve("volumes").resolve(p.getMetadata().getUid());
    }

    GroupId group() {
        return agent.volumes().node().group(ns, "gpt");
    }

    static void compileInto(Path view, String name, String code) throws Exception {
        Path dir = Files.createDirectories(view.resolve("inductor/ab"));
        Path t = dir.resolve(name + ".tmp");
        Files.writeString(t, code);
        Files.move(t, dir.resolve(name));
    }

    /**
     * KubeAgent.deleted() queues dropGroup on the 4-thread pool; policy() for the re-created
     * CompileCache calls undrop() on the informer thread at once. When the pool is busy (publishes,
     * final ingests) the drop runs after the undrop and the new CompileCache's group stays dropped:
     * nothing its pods compile is ever ingested again (until the agent restarts).
     */
    @Test
    void compileCacheDeletedWithDelete_thenRecreated_whilePoolBusy_newCacheStillIngests() throws Exception {
        java.lang.reflect.Field f = KubeAgent.class.getDeclaredField("work");
        f.setAccessible(true);
        ExecutorService work = (ExecutorService) f.get(agent);
        CountDownLatch release = new CountDownLatch(1);
        for (int i = 0; i < 4; i++) { // stands in for four slow publishes / final ingests
            work.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete();
        Thread.sleep(1000);
        createCache(DeletionPolicy.Retain); // `kubectl delete` then `kubectl apply` of the same name
        Thread.sleep(1000);
        release.countDown();
        Thread.sleep(1000);

        Pod p = create(pod("after", 1000L, false));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(p)));
        compileInto(view(p), "cnew.py", "x = 'compiled for the new CompileCache'\n");
        client.pods().inNamespace(ns).withName("after").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(p)));
        assertThat(store.entries(group())).as("the re-created CompileCache's pod output is ingested")
                .anyMatch(e -> e.key().name().equals("inductor/ab/cnew.py"));
    }

    /**
     * A pod whose wait step already ended when the agent first sees it (agent restarting, slow, or
     * the pod ran cold) never gets a Live entry; gone() -> finishLocked() returns before removing
     * anything, so the folder kubelet created for its subPathExpr mount stays until the next restart.
     */
    @Test
    void coldPod_folderIsRemovedWhenThePodGoes() throws Exception {
        Pod p = create(pod("cold", 1000L, true)); // the API server gives it its UID
        Files.createDirectories(view(p)); // kubelet's subPathExpr folder (root 0755)
        Thread.sleep(1000);
        assertThat(agent.volumes().livePods()).doesNotContain(p.getMetadata().getUid());
        client.pods().inNamespace(ns).withName("cold").delete();
        Thread.sleep(1500);
        assertThat(view(p)).as("the view folder of a pod that is gone").doesNotExist();
    }

    /**
     * Views.adopt records only linked files as published. A COPY view (root pods, and every pod
     * whose user the pod spec does not name) adopted after a restart then has every copied file
     * re-ingested (counted as misses) and marked `ingested`, so reads of it are no longer hits.
     */
    @Test
    void copyView_adoptedAfterRestart_keepsHitsAndDoesNotCountPublishedFilesAsMisses() throws Exception {
        Pod first = create(pod("first", 1000L, false));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(first)));
        compileInto(view(first), "cabc.py", "def kernel(): return 42\n");
        client.pods().inNamespace(ns).withName("first").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(first)));
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);

        Pod second = create(pod("second", null, false)); // image's USER: a COPY view
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(second)));
        Thread.sleep(1100);
        Files.readAllBytes(view(second).resolve("inductor/ab/cabc.py")); // a hit
        agent.close();
        agent = null;
        startAgent();
        Thread.sleep(1000); // a few periodic ingest passes over the adopted view
        client.pods().inNamespace(ns).withName("second").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(second)));
        assertThat(metrics.groupCounts(group()).misses()).as("misses: only the first pod compiled").isEqualTo(1);
        assertThat(metrics.groupCounts(group()).hits()).as("hits: the second pod read the entry").isEqualTo(1);
    }
}
