package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.UploadQueue;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.RemoteSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that joins is pre-warmed before its first pod: the agent starts against fabric8's mock API
 * server and a real S3-compatible server, and fills the groups of its device class of the
 * CompileCaches with {@code spec.remote.prewarm} (only those) without any pod scheduled there.
 */
@EnableKubernetesMockClient(crud = true)
class KubeAgentPrewarmIT extends AgainstS3 {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    static Remote remote() {
        return remote("prewarm");
    }

    void cache(String ns, boolean prewarm) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setRemote(new RemoteSpec());
        spec.getRemote().setPrewarm(prewarm);
        cc.setSpec(spec);
        client.resource(cc).create();
    }

    @Test
    void aJoiningNode_isPrewarmed_withTheCachesThatAskForIt_beforeAnyPod() throws Exception {
        GroupId warm =
                new GroupId("team-p", "gpt", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
        GroupId cold =
                new GroupId("team-q", "gpt", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
        try (NodeStore first = NodeStore.open(Files.createDirectories(tmp.resolve("first")), StoreConfig.defaults());
                Remote up = remote()) {
            for (GroupId g : List.of(warm, cold)) {
                StoreFixture.commit(first, g, "inductor/ab/c1.py", StoreFixture.bytes(1, 5000));
                StoreFixture.commit(first, g, "inductor/ab/c2.py", StoreFixture.bytes(2, 5000));
                up.uploader()
                        .upload(
                                first,
                                g,
                                List.of("inductor/ab/c1.py", "inductor/ab/c2.py"),
                                System.nanoTime() + 30_000_000_000L);
            }
        }
        cache("team-p", true);
        cache("team-q", false);
        client.nodes()
                .resource(new NodeBuilder()
                        .withNewMetadata()
                        .withName("gpu-9")
                        .withLabels(Map.of(
                                NodeIdentity.LABEL_MAJOR,
                                "9",
                                NodeIdentity.LABEL_MINOR,
                                "0",
                                NodeIdentity.LABEL_PRODUCT,
                                "NVIDIA-H100-80GB-HBM3"))
                        .endMetadata()
                        .build())
                .createOr(r -> r.update());
        try (NodeStore store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
                Remote remote = remote();
                KubeAgent agent = new KubeAgent(
                        client,
                        store,
                        new AgentMetrics(),
                        new KubeAgent.Config(
                                "gpu-9",
                                tmp.resolve("volumes"),
                                null,
                                null,
                                Duration.ofSeconds(10),
                                IngestLimits.defaults(),
                                false))) {
            agent.useRemote(remote, new UploadQueue(store.root()), 1 << 30);
            agent.start();
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> store.entries(warm).size() == 2);
            assertThat(client.pods().inAnyNamespace().list().getItems())
                    .as("no pod was ever scheduled")
                    .isEmpty();
            assertThat(store.entries(cold))
                    .as("its CompileCache did not ask for pre-warm")
                    .isEmpty();
        }
    }
}
