package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.agent.key.GroupId;
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
 * The whole node path in one go, with the real parts: the operator (webhook over HTTPS, certificate
 * from its Secret), the node agent in Kubernetes mode, fabric8's mock API server, a kubelet stand-in
 * that runs the injected init step and the workload as real processes in mount namespaces under the
 * pod's user, and a workload replaying the real H100 Inductor+Triton fixture.
 */
@EnableKubernetesMockClient(crud = true)
class NodePathE2E {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    Cluster cluster;
    Node node;
    Cluster.Workload workload;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root: the kubelet stand-in bind-mounts volumes and switches users");
        workload = Cluster.workload(tmp);
        cluster = new Cluster(client).startOperator();
        node = new Node(client, "gpu-1", tmp.resolve("gpu-1"), "9", "0", "NVIDIA-H100-80GB-HBM3").startAgent();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (node != null) {
            node.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        client.pods().inAnyNamespace().delete();
        client.resources(io.mithril.api.v1alpha1.CompileCache.class)
                .inAnyNamespace()
                .delete();
    }

    /** Admission, binding, kubelet's run, then the pod ends; returns the workload's output. */
    String runPod(String namespace, String name, long uid) throws Exception {
        Pod admitted = cluster.admit(Cluster.gpuPod(namespace, name, uid));
        assertThat(admitted.getMetadata().getAnnotations()).containsKey("mithril.io/injected");
        Pod bound = cluster.createAndBind(admitted, node.name);
        List<FakeKubelet.Exit> exits = node.kubelet.run(bound, Map.of("train", workload.command()), 120);
        assertThat(exits)
                .allSatisfy(e -> assertThat(e.code())
                        .as("%s said: %s", e.container(), e.output())
                        .isZero());
        assertThat(exits.get(0).output()).as("the wait step found the view").contains("mithril: cache view ready");
        String out = exits.get(exits.size() - 1).output().trim();
        cluster.finish(bound);
        String boundUid = bound.getMetadata().getUid();
        await().atMost(Duration.ofSeconds(60)).until(() -> node.finished(boundUid)); // final ingest, then removal
        return out;
    }

    @Test
    void wholeNodePath_firstPodCompiles_secondPodOnTheNodeReadsEverything() throws Exception {
        cluster.compileCache("team-a", "gpt", 30);
        String first = runPod("team-a", "train-1", 1000);
        assertThat(first).startsWith("MISS");
        GroupId g = node.group("team-a", "gpt");
        assertThat(node.store.entries(g)).isNotEmpty();

        String second = runPod("team-a", "train-2", 1000);
        assertThat(second).isEqualTo("HIT " + workload.warmReads());
        assertThat(node.metrics.groupCounts(g).hits()).isPositive();
    }

    @Test
    void isolation_aPodOfAnotherNamespace_neverReceivesTheseEntries_evenWithTheSameCacheName() throws Exception {
        cluster.compileCache("team-a", "gpt", 30);
        cluster.compileCache("team-b", "gpt", 30);
        assertThat(runPod("team-a", "a-1", 1000)).startsWith("MISS");
        int teamAEntries = node.store.entries(node.group("team-a", "gpt")).size();
        assertThat(teamAEntries).isPositive();

        assertThat(runPod("team-b", "b-1", 1000))
                .as("team-b compiles for itself")
                .startsWith("MISS");
        assertThat(node.metrics.groupCounts(node.group("team-b", "gpt")).hits()).isZero();
        assertThat(node.store.entries(node.group("team-a", "gpt"))).hasSize(teamAEntries);
        assertThat(runPod("team-a", "a-2", 1000))
                .as("team-a still hits its own")
                .startsWith("HIT");
    }
}
