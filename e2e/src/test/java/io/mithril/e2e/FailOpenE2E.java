package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fail-open: a node with no agent (not installed, crashed). A non-root pod that the webhook injected
 * still starts after the bounded wait and its workload compiles cold into its cache folder.
 */
@EnableKubernetesMockClient(crud = true)
class FailOpenE2E {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    Cluster cluster;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root: the kubelet stand-in bind-mounts volumes and switches users");
        cluster = new Cluster(client).startOperator();
    }

    @AfterEach
    void tearDown() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void nonRootPod_onANodeWithoutAgent_startsAfterTheBoundedWait_andCompilesCold() throws Exception {
        Cluster.Workload workload = Cluster.workload(tmp);
        Node bare =
                new Node(client, "gpu-bare", tmp.resolve("gpu-bare"), "9", "0", "NVIDIA-H100-80GB-HBM3"); // no agent
        cluster.compileCache("team-a", "gpt", 2);
        Pod pod = cluster.createAndBind(cluster.admit(Cluster.gpuPod("team-a", "train", 1000)), bare.name);

        List<FakeKubelet.Exit> exits = bare.kubelet.run(pod, Map.of("train", workload.command()), 120);
        FakeKubelet.Exit wait = exits.get(0);
        assertThat(wait.container()).isEqualTo("mithril-wait");
        assertThat(wait.code()).isZero();
        assertThat(wait.output()).contains("no cache view after 2s; starting cold");
        assertThat(wait.millis()).isBetween(1_500L, 20_000L);
        FakeKubelet.Exit train = exits.get(1);
        assertThat(train.code()).as("workload said: %s", train.output()).isZero();
        assertThat(train.output().trim()).startsWith("MISS");

        Path cache = bare.kubelet.emptyDir(pod, "mithril-cache");
        try (var files = Files.walk(cache.resolve("inductor"))) {
            assertThat(files.filter(Files::isRegularFile).count())
                    .as("compiled into the pod's own cache")
                    .isPositive();
        }
        assertThat(Files.getAttribute(cache.resolve("inductor"), "unix:uid")).isEqualTo(1000);
        // why the canonical path is not the hostPath: the folder kubelet made there is root's, 0755
        Path viewDir = bare.kubelet
                .host("/var/lib/mithril/volumes")
                .resolve(pod.getMetadata().getUid());
        assertThat(Files.getAttribute(viewDir, "unix:uid")).isEqualTo(0);
        assertThat(Files.getPosixFilePermissions(viewDir))
                .doesNotContain(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE);
    }
}
