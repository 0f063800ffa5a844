package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.agent.S3ProxyServer;
import io.mithril.api.v1alpha1.RemoteSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@link ProcessesE2E} with the remote tier (issue 13, the Kubernetes path): the same real pieces as
 * processes (mock API server, operator, {@code bin/mithril-agent serve --kubernetes}, this test as
 * scheduler and kubelet, the H100 fixture workload in mount namespaces), plus a real S3-compatible
 * server (S3Proxy in a JVM of its own) that every agent is given with {@code --remote}. The nodes
 * are all of one device class (H100, sm_90), each with a root of its own: the second node's first
 * pod is warm from what the first node's pod compiled and uploaded, and a node that joins later is
 * pre-warmed before any pod is bound to it. Needs root.
 */
@EnableKubernetesMockClient(crud = true)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProcessesRemoteE2E {

    static final String BUCKET = "mithril";
    static final String PREFIX = "e2e";
    static final String H100 = "NVIDIA-H100-80GB-HBM3";
    /** Where a group's manifests of the caches below lie in the bucket (docs/remote.md, "Object layout"). */
    static final String MANIFESTS = PREFIX + "/groups/%s/gpt/cuda-9.0/nvidia-h100-80gb-hbm3/manifests/";

    static final Pattern GETS =
            Pattern.compile("mithril_remote_requests_total\\{operation=\"get\",result=\"[a-z_]+\"} (\\d+)");

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    static Path tmp;

    S3ProxyServer s3;
    Processes procs;
    Cluster cluster;
    Cluster.Workload workload;
    Path keyFile;
    Node first;
    Node second;
    int portFirst;
    int portSecond;

    @BeforeAll
    void start() throws Exception {
        Processes.assumeRunnable();
        s3 = S3ProxyServer.start(tmp.resolve("s3"), BUCKET);
        keyFile = Files.writeString(
                tmp.resolve("remote.key"), "e2e-manifest-key-0123456789abcdef", StandardCharsets.UTF_8);
        Processes.prepareApiServer(server, client);
        workload = Cluster.workload(tmp);
        procs = new Processes(tmp, client.getMasterUrl().toString());
        first = new Node(client, "gpu-h1", tmp.resolve("gpu-h1"), "9", "0", H100);
        second = new Node(client, "gpu-h2", tmp.resolve("gpu-h2"), "9", "0", H100);
        portFirst = Processes.freePort();
        portSecond = Processes.freePort();
        startAgent(first, portFirst);
        startAgent(second, portSecond);
        int webhookPort = Processes.freePort();
        Process operator = procs.operator(webhookPort);
        Processes.awaitHttp("https://127.0.0.1:" + webhookPort + "/healthz", operator, Duration.ofSeconds(90));
        cluster = new Cluster(client).attach(webhookPort);
        remoteCache("team-r", true); // pre-warmed where a node of its class joins
        remoteCache("team-x", false); // on the remote too, never pre-warmed
    }

    /** A CompileCache {@code gpt} on the remote; fetch deadline well within the publish timeout. */
    void remoteCache(String namespace, boolean prewarm) {
        RemoteSpec remote = new RemoteSpec();
        remote.setEnabled(true);
        remote.setPrewarm(prewarm);
        remote.setFetchDeadlineSeconds(60); // this machine is shared; the fill takes seconds, not a minute
        cluster.compileCache(namespace, "gpt", 90, remote);
    }

    /** The node's agent with the remote: uploads every second, pre-warm up to 1 GiB. */
    Process startAgent(Node node, int port) throws Exception {
        return procs.readyAgent(
                node,
                port,
                "1Gi",
                List.of(
                        "--remote",
                        "s3://" + BUCKET + "/" + PREFIX,
                        "--remote-endpoint",
                        s3.endpoint().toString(),
                        "--remote-key-file",
                        keyFile.toString(),
                        "--remote-upload-interval",
                        "1s",
                        "--remote-prewarm-bytes",
                        "1Gi"),
                S3ProxyServer.CREDENTIALS_ENV);
    }

    @AfterAll
    void stop() throws Exception {
        if (procs != null) {
            procs.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    /**
     * The fixture workload, then every byte of its cache folders compared with the fixture's: on a
     * warm start the view must hold exactly what was compiled, nothing missing, nothing changed.
     */
    List<String> workloadAndCompare() {
        List<String> c = new ArrayList<>(List.of("sh", "-c"));
        c.add("sh \"$0\" \"$1\" \"$2\" && diff -r \"$TORCHINDUCTOR_CACHE_DIR\" \"$1/inductor\""
                + " && diff -r \"$TRITON_CACHE_DIR\" \"$1/triton\"");
        c.addAll(workload.command().subList(1, workload.command().size()));
        return c;
    }

    /** A pod of {@code namespace} on {@code node} runs {@code command} and ends; returns its workload's output. */
    String runToEnd(Node node, String namespace, List<String> command) throws Exception {
        Cluster.Ran r = cluster.run(node, namespace, command);
        assertThat(r.exits().get(0).output()).contains("cache view ready");
        cluster.end(node, r.pod());
        return r.workloadOutput();
    }

    static JsonNode group(int port, String namespace) throws Exception {
        return Processes.group(port, namespace);
    }

    /** GET requests the agent sent to the remote, from its /metrics (every result). */
    static long remoteGets(int port) throws Exception {
        Matcher m = GETS.matcher(Processes.agentGet(port, "/metrics"));
        long n = 0;
        boolean any = false;
        while (m.find()) {
            n += Long.parseLong(m.group(1));
            any = true;
        }
        assertThat(any).as("the agent reports its remote requests").isTrue();
        return n;
    }

    List<String> keys(String prefix) {
        try (S3Client c = s3.client()) {
            return c.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(prefix)).contents().stream()
                    .map(S3Object::key)
                    .toList();
        }
    }

    /** Pods of workloads (not the agents') bound to {@code node}. */
    List<Pod> workloadPods(Node node) {
        return client.pods().inAnyNamespace().list().getItems().stream()
                .filter(p -> node.name.equals(p.getSpec().getNodeName()))
                .filter(p -> !"mithril-system".equals(p.getMetadata().getNamespace()))
                .toList();
    }

    @Test
    @Order(1)
    void theSecondNodeOfTheClass_isWarmFromWhatTheFirstCompiled() throws Exception {
        assertThat(runToEnd(first, "team-r", workload.command())).startsWith("MISS");
        JsonNode compiled = group(portFirst, "team-r");
        long entries = compiled.path("entries").asLong();
        assertThat(entries).isPositive();
        // the pod went well (Succeeded): what it compiled is queued and goes up within the upload interval
        await().atMost(Duration.ofSeconds(90))
                .until(() -> group(portFirst, "team-r")
                                .path("remote")
                                .path("uploaded")
                                .asLong()
                        == entries);
        assertThat(keys(MANIFESTS.formatted("team-r"))).isNotEmpty();
        assertThat(group(portSecond, "team-r"))
                .as("gpu-h2 started before the upload: nothing of team-r there yet")
                .isNull();

        Cluster.Ran warm = cluster.run(second, "team-r", workloadAndCompare());
        assertThat(warm.workloadOutput())
                .as("the workload read every file of a warm start and compiled nothing; the bytes are the fixture's")
                .isEqualTo("HIT " + workload.warmReads());
        cluster.end(second, warm.pod());
        JsonNode fetched = group(portSecond, "team-r");
        assertThat(fetched.path("remote").path("fetched").asLong())
                .as("every entry came from the remote, fetched on the pod's start")
                .isEqualTo(entries);
        assertThat(fetched.path("remote").path("fetchedBytes").asLong()).isPositive();
        assertThat(fetched.path("entries").asLong()).isEqualTo(entries);
        assertThat(fetched.path("bytes").asLong())
                .isEqualTo(compiled.path("bytes").asLong());
        assertThat(fetched.path("remote").path("uploaded").asLong())
                .as("a hit adds nothing to upload")
                .isZero();
    }

    @Test
    @Order(2)
    void anotherNamespacesCache_onTheSameClass_getsNothingFromTheRemote() throws Exception {
        assertThat(keys(PREFIX + "/groups/"))
                .as("only team-r has manifests so far")
                .allMatch(k -> k.startsWith(MANIFESTS.formatted("team-r")));
        assertThat(runToEnd(second, "team-x", workload.command()))
                .as("team-r's entries (and their blobs) are in the bucket, but not team-x's")
                .startsWith("MISS");
        assertThat(group(portSecond, "team-x").path("remote").path("fetched").asLong())
                .isZero();
        await().atMost(Duration.ofSeconds(90))
                .until(() -> !keys(MANIFESTS.formatted("team-x")).isEmpty()); // its own go up now
    }

    @Test
    @Order(3)
    void aNodeThatJoins_isPrewarmedBeforeItsFirstPod() throws Exception {
        long entries = group(portFirst, "team-r").path("entries").asLong();
        Node third = new Node(client, "gpu-h3", tmp.resolve("gpu-h3"), "9", "0", H100);
        int portThird = Processes.freePort();
        startAgent(third, portThird);
        await().atMost(Duration.ofSeconds(90)).until(() -> {
            JsonNode g = group(portThird, "team-r");
            return g != null && g.path("entries").asLong() == entries;
        });
        assertThat(workloadPods(third)).as("no pod was ever bound to gpu-h3").isEmpty();
        JsonNode prewarmed = group(portThird, "team-r");
        assertThat(prewarmed.path("remote").path("fetched").asLong()).isEqualTo(entries);
        assertThat(group(portThird, "team-x"))
                .as("team-x does not ask for pre-warm: none of its entries come")
                .isNull();
        long gets = remoteGets(portThird);
        long fetchedBytes = prewarmed.path("remote").path("fetchedBytes").asLong();

        Cluster.Ran r = cluster.run(third, "team-r", workloadAndCompare());
        assertThat(r.workloadOutput()).isEqualTo("HIT " + workload.warmReads());
        cluster.end(third, r.pod());
        JsonNode after = group(portThird, "team-r");
        assertThat(after.path("remote").path("fetched").asLong())
                .as("the pod's start fetched nothing: it was all there")
                .isEqualTo(entries);
        assertThat(after.path("remote").path("fetchedBytes").asLong()).isEqualTo(fetchedBytes);
        assertThat(remoteGets(portThird))
                .as("no object was read for the pod's start")
                .isEqualTo(gets);
    }
}
