package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.operator.webhook.VolumeMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EmptyDir mode: no hostPath in user pods (what the baseline and restricted Pod Security
 * profiles allow). The agent publishes into the pod's emptyDir from kubelet's pod folder; the pod
 * only waits for the marker. Same parts as {@link NodePathE2E}.
 */
@EnableKubernetesMockClient(crud = true)
class EmptyDirModeE2E {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    Cluster cluster;
    Cluster.Workload workload;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root: the kubelet stand-in bind-mounts volumes and switches users");
        workload = Cluster.workload(tmp);
        cluster = new Cluster(client).startOperator(VolumeMode.EmptyDir);
        cluster.compileCache("team-a", "gpt", 30);
    }

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
        client.pods().inAnyNamespace().delete();
        client.resources(io.mithril.api.v1alpha1.CompileCache.class)
                .inAnyNamespace()
                .delete();
    }

    List<FakeKubelet.Exit> run(Node node, String name) throws Exception {
        Pod pod = cluster.createAndBind(cluster.admit(Cluster.gpuPod("team-a", name, 1000)), node.name);
        assertThat(pod.getSpec().getVolumes())
                .as("no hostPath in the user's pod")
                .noneMatch(v -> v.getHostPath() != null);
        List<FakeKubelet.Exit> exits = node.kubelet.run(pod, Map.of("train", workload.command()), 120);
        assertThat(exits)
                .allSatisfy(e -> assertThat(e.code())
                        .as("%s said: %s", e.container(), e.output())
                        .isZero());
        cluster.finish(pod);
        if (node.agent != null) {
            Path view = node.kubelet.emptyDir(pod, "mithril-cache");
            await().atMost(Duration.ofSeconds(60)).until(() -> !Files.exists(view.resolve(".mithril-ready")));
        }
        return exits;
    }

    @Test
    void coldThenWarm_throughThePodsOwnEmptyDir() throws Exception {
        try (Node node =
                new Node(client, "gpu-1", tmp.resolve("gpu-1"), "9", "0", "NVIDIA-H100-80GB-HBM3").startAgent()) {
            List<FakeKubelet.Exit> first = run(node, "train-1");
            assertThat(first.get(0).output()).contains("cache view ready");
            assertThat(first.get(1).output()).startsWith("MISS");
            assertThat(node.store.entries(node.group("team-a", "gpt"))).isNotEmpty();
            List<FakeKubelet.Exit> second = run(node, "train-2");
            assertThat(second.get(1).output().trim()).isEqualTo("HIT " + workload.warmReads());
        }
    }

    @Test
    void nonRootPod_onANodeWithoutAgent_startsCold() throws Exception {
        Node bare = new Node(client, "gpu-bare", tmp.resolve("gpu-bare"), "9", "0", "NVIDIA-H100-80GB-HBM3");
        var cc = client.resources(io.mithril.api.v1alpha1.CompileCache.class)
                .inNamespace("team-a")
                .withName("gpt")
                .get();
        cc.getSpec().setPublishTimeoutSeconds(2);
        client.resource(cc).update();
        List<FakeKubelet.Exit> exits = run(bare, "train");
        assertThat(exits.get(0).output()).contains("starting cold");
        assertThat(exits.get(1).output()).startsWith("MISS");
    }
}
