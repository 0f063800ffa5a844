package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.api.v1alpha1.CompileCache;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real pieces as separate processes: fabric8's mock API server (CRUD mode, in this JVM), the
 * operator ({@code bin/mithril-operator}, webhook over HTTPS, leader election on), two node agents
 * ({@code bin/mithril-agent serve --kubernetes}) as two nodes with different GPU labels and roots of
 * their own, and this test playing scheduler and kubelet: pods go through the webhook, are bound to
 * a node, the injected wait step and the H100 fixture workload run as processes in mount namespaces
 * under the pod's user, and pods end. Needs root.
 */
@EnableKubernetesMockClient(crud = true)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProcessesE2E {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    static Path tmp;

    Processes procs;
    Cluster cluster;
    Cluster.Workload workload;
    Node a;
    Node b;
    int portA;
    int portB;
    int webhookPort;
    Process agentA;
    Process operator;

    @BeforeAll
    void start() throws Exception {
        Processes.assumeRunnable();
        Processes.prepareApiServer(server, client);
        workload = Cluster.workload(tmp);
        procs = new Processes(tmp, client.getMasterUrl().toString());
        a = new Node(client, "gpu-a", tmp.resolve("gpu-a"), "9", "0", "NVIDIA-H100-80GB-HBM3");
        b = new Node(client, "gpu-b", tmp.resolve("gpu-b"), "8", "0", "NVIDIA-A100-SXM4-80GB");
        portA = Processes.freePort();
        portB = Processes.freePort();
        agentA = startAgent(a, portA);
        startAgent(b, portB);
        webhookPort = Processes.freePort();
        operator = procs.operator(webhookPort);
        Processes.awaitHttp("https://127.0.0.1:" + webhookPort + "/healthz", operator, Duration.ofSeconds(90));
        cluster = new Cluster(client).attach(webhookPort);
        for (String ns : List.of("team-a", "team-t", "team-k")) {
            cluster.compileCache(ns, "gpt", 30);
        }
        CompileCache tiny = client.resources(CompileCache.class)
                .inNamespace("team-t")
                .withName("gpt")
                .get();
        tiny.getSpec().setBudget("8Mi"); // the fixture is 14.8 MB: it never fits
        client.resource(tiny).update();
    }

    Process startAgent(Node node, int port) throws Exception {
        return procs.readyAgent(node, port, "1Gi", List.of(), Map.of());
    }

    @AfterAll
    void stop() throws Exception {
        if (procs != null) {
            procs.close();
        }
    }

    JsonNode group(int port, String namespace) throws Exception {
        return Processes.group(port, namespace);
    }

    Cluster.Ran run(Node node, String namespace, List<String> command) throws Exception {
        return cluster.run(node, namespace, command);
    }

    void end(Node node, Pod pod) {
        cluster.end(node, pod);
    }

    String runToEnd(Node node, String namespace) throws Exception {
        Cluster.Ran r = run(node, namespace, workload.command());
        assertThat(r.exits().get(0).output()).contains("cache view ready");
        end(node, r.pod());
        return r.workloadOutput();
    }

    @Test
    @Order(1)
    void coldThenWarm_onOneNode() throws Exception {
        assertThat(runToEnd(a, "team-a")).startsWith("MISS");
        assertThat(runToEnd(a, "team-a")).isEqualTo("HIT " + workload.warmReads());
        JsonNode g = group(portA, "team-a");
        assertThat(g.path("hits").asLong()).isEqualTo(24);
        assertThat(g.path("device").asText()).isEqualTo("cuda-9.0");
    }

    @Test
    @Order(2)
    void aNodeOfAnotherDeviceClass_doesNotShare() throws Exception {
        assertThat(runToEnd(b, "team-a"))
                .as("gpu-b is sm_80: it compiles its own")
                .startsWith("MISS");
        assertThat(group(portB, "team-a").path("device").asText()).isEqualTo("cuda-8.0");
        assertThat(group(portB, "team-a").path("product").asText()).isEqualTo("nvidia-a100-sxm4-80gb");
        assertThat(runToEnd(b, "team-a")).startsWith("HIT");
    }

    @Test
    @Order(3)
    void tinyBudget_evictsWhilePodsComeAndGo_andTheStoreStaysClean() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertThat(runToEnd(a, "team-t")).as("never all of it fits in 8Mi").startsWith("MISS");
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> group(portA, "team-t") != null
                            && group(portA, "team-t").path("bytes").asLong() <= 8L << 20);
        }
        assertThat(group(portA, "team-t").path("entries").asLong()).isPositive();
        assertThat(group(portA, "team-a").path("hits").asLong())
                .as("the other cache on the node is untouched")
                .isEqualTo(24);
        assertThat(verify(a)).contains("0 corrupt");
    }

    String verify(Node node) throws Exception {
        Process p = new ProcessBuilder(
                        Processes.REPO.resolve("bin/mithril-agent").toString(),
                        "--root",
                        node.kubelet.host("/var/lib/mithril/store").toString(),
                        "verify")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    @Test
    @Order(4)
    void agentKilledAndRestarted_whileAPodCompiles_losesNothing() throws Exception {
        List<String> slow = new ArrayList<>(workload.command());
        slow.add("4"); // 4 s between its Inductor and Triton writes: the periodic ingest runs meanwhile
        CompletableFuture<Cluster.Ran> ran = CompletableFuture.supplyAsync(() -> {
            try {
                return run(a, "team-k", slow);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(60))
                .until(() -> group(portA, "team-k") != null
                        && group(portA, "team-k").path("entries").asLong() > 0); // part of it ingested already
        Processes.kill(agentA); // SIGKILL, in the middle
        agentA = startAgent(a, portA);
        Cluster.Ran r = ran.get();
        assertThat(r.workloadOutput()).startsWith("MISS");
        end(a, r.pod());
        assertThat(runToEnd(a, "team-k"))
                .as("everything the first pod compiled survived")
                .isEqualTo("HIT " + workload.warmReads());
        assertThat(verify(a)).contains("0 corrupt");
    }

    @Test
    @Order(5)
    void kubectlGetCompilecaches_showsTheFigures() throws Exception {
        PrinterColumns columns = new PrinterColumns(Processes.REPO.resolve("crds/compilecaches.mithril.io-v1.yml"));
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            CompileCache cc = client.resources(CompileCache.class)
                    .inNamespace("team-a")
                    .withName("gpt")
                    .get();
            return cc.getStatus() != null
                    && cc.getStatus().getNodes() != null
                    && cc.getStatus().getNodes() == 2;
        });
        List<Map<String, String>> rows = new ArrayList<>();
        for (String ns : List.of("team-a", "team-t", "team-k")) {
            rows.add(columns.row(client.resources(CompileCache.class)
                    .inNamespace(ns)
                    .withName("gpt")
                    .get()));
        }
        String table = PrinterColumns.table(rows);
        System.out.println("kubectl get compilecaches -A (from the CRD's printer columns):\n" + table);
        Map<String, String> teamA = rows.get(0);
        assertThat(teamA)
                .containsEntry("READY", "True")
                .containsEntry("NODES", "2")
                .containsEntry("BUDGET", "1Gi");
        assertThat(teamA.get("USED")).endsWith("Mi");
        assertThat(teamA.get("HIT RATIO")).matches("\\d+%");
        assertThat(rows.get(1)).containsEntry("BUDGET", "8Mi");
        assertThat(rows.get(1).get("HIT RATIO"))
                .as("counts survive the agent's restart in the test before")
                .isEqualTo("0%");
    }

    @Test
    @Order(6)
    void operatorDown_podsStillStart() throws Exception {
        Processes.kill(operator);
        Cluster.Ran r = run(a, "team-a", List.of("sh", "-c", "echo started"));
        assertThat(r.pod().getMetadata().getAnnotations()).doesNotContainKey("mithril.io/injected");
        assertThat(r.workloadOutput()).isEqualTo("started");
    }
}
