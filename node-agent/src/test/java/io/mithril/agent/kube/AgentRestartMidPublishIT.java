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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent stopped in the middle of a publish; the pod is still in its wait step when it is back. (Found by a review.) */
@EnableKubernetesMockClient(crud = true)
class AgentRestartMidPublishIT {
    static KubernetesMockServer server;
    static KubernetesClient client;
    @TempDir Path tmp;
    NodeStore store;
    KubeAgent agent;
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
        spec.setDeletionPolicy(DeletionPolicy.Retain);
        cc.setSpec(spec);
        client.resource(cc).create();
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        startAgent();
    }

    void startAgent() throws Exception {
        agent = new KubeAgent(client, store, new AgentMetrics(), new KubeAgent.Config("gpu-1", tmp.resolve("volumes"), null, null,
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

    Pod pod(String name) {
        return new PodBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).withUid(UUID.randomUUID().toString())
                .withAnnotations(Map.of("mithril.io/cache", "enabled", "mithril.io/injected", "gpt",
                        "mithril.io/injected-frameworks", "Inductor,Triton", "mithril.io/injected-containers", "train"))
                .endMetadata()
                .withNewSpec().withNodeName("gpu-1").addNewContainer().withName("train").withImage("pytorch")
                .withNewSecurityContext().withRunAsUser(1000L).endSecurityContext().endContainer().endSpec()
                .withNewStatus().withPhase("Pending").endStatus().build();
    }

    /**
     * The agent is stopped (rolling update, OOM with ExitOnOutOfMemoryError) after the record and the
     * framework folders were written but before the marker. recover() says "publish not finished before
     * the restart: observe() publishes over it", but publish now refuses a non-empty folder: the pod
     * waits out its whole wait step and runs cold although it is still waiting.
     */
    @Test
    void agentRestartMidPublish_podStillWaiting_getsItsView() throws Exception {
        agent.close();
        agent = null;
        Pod p = client.pods().inNamespace(ns).resource(pod("mid")).create();
        Path view = tmp.resolve("volumes").resolve(p.getMetadata().getUid());
        // what the killed agent left: its record, the view folder with the framework folders, no marker
        Path rec = Files.createDirectories(tmp.resolve("store/pods")).resolve(p.getMetadata().getUid());
        Files.writeString(rec, new NodeIdentityProbe().group(client, ns) + "\ninductor,triton\nLINK\n" + view + "\nfalse\n");
        Files.createDirectories(view.resolve("inductor"));
        Files.createDirectories(view.resolve("triton"));
        startAgent();
        boolean ready;
        try {
            await().atMost(Duration.ofSeconds(5)).until(() -> Views.isReady(view));
            ready = true;
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            ready = false;
        }
        assertThat(ready).as("a pod still in its wait step gets its view after an agent restart mid-publish").isTrue();
    }

    /** Computes the group text the agent would record, through a throwaway PodVolumes' NodeIdentity. */
    static final class NodeIdentityProbe {
        String group(KubernetesClient c, String ns) {
            NodeIdentity id = NodeIdentity.of(c.nodes().withName("gpu-1").get(), null, null);
            return id.group(ns, "gpt").text();
        }
    }
}
