package io.mithril.operator.reconciler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.benmanes.caffeine.cache.Ticker;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.javaoperatorsdk.operator.Operator;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.agents.AgentDirectory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reconciler in JOSDK against fabric8's mock API server in CRUD mode (server-side apply off:
 * the mock answers it with 415), with two node agents played by small HTTP servers that answer
 * {@code /v1/stats} as the real agent does.
 */
@EnableKubernetesMockClient(crud = true)
class CompileCacheReconcilerIT {

    static KubernetesMockServer server;
    static KubernetesClient client;

    final String ns = "team-" + UUID.randomUUID().toString().substring(0, 8);
    final List<HttpServer> agents = new ArrayList<>();
    Operator operator;
    AgentDirectory directory;

    /** A fake agent: answers /v1/stats with whatever {@code body} holds now. */
    AtomicReference<String> agent(String node) throws Exception {
        AtomicReference<String> body = new AtomicReference<>("{\"groups\":[]}");
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.createContext("/v1/stats", ex -> {
            byte[] b = body.get().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        agents.add(s);
        client.pods()
                .inNamespace("mithril-system")
                .resource(new PodBuilder()
                        .withNewMetadata()
                        .withName("agent-" + node)
                        .withNamespace("mithril-system")
                        .addToLabels("app.kubernetes.io/component", "node-agent")
                        .endMetadata()
                        .withNewSpec()
                        .withNodeName(node)
                        .addNewContainer()
                        .withName("agent")
                        .withImage("mithril-agent")
                        .addNewPort()
                        .withName("http")
                        .withContainerPort(s.getAddress().getPort())
                        .endPort()
                        .endContainer()
                        .endSpec()
                        .withNewStatus()
                        .withPodIP("127.0.0.1")
                        .addNewCondition()
                        .withType("Ready")
                        .withStatus("True")
                        .endCondition()
                        .endStatus()
                        .build())
                .createOr(r -> r.update());
        return body;
    }

    static String group(String ns, String cache, String device, long entries, long bytes, long hits, long misses) {
        return String.format(
                "{\"namespace\":\"%s\",\"cache\":\"%s\",\"device\":\"%s\",\"product\":\"nvidia-h100\",\"entries\":%d,"
                        + "\"bytes\":%d,\"budget\":null,\"hits\":%d,\"misses\":%d,\"lastUse\":\"2026-11-26T10:00:00Z\"}",
                ns, cache, device, entries, bytes, hits, misses);
    }

    @BeforeEach
    void start() {
        directory = new AgentDirectory(
                client,
                new AgentDirectory.Config(
                        "mithril-system",
                        "app.kubernetes.io/component=node-agent",
                        9464,
                        Duration.ofMillis(200),
                        Duration.ofSeconds(10)),
                Ticker.systemTicker());
        directory.start();
        operator = new Operator(o -> o.withKubernetesClient(client)
                .withCloseClientOnStop(false)
                .withUseSSAToPatchPrimaryResource(false)
                .withSSABasedCreateUpdateMatchForDependentResources(false));
        operator.register(new CompileCacheReconciler(
                directory, new Events(client, Clock.systemUTC()), Clock.systemUTC(), Duration.ofMillis(500)));
        operator.start();
    }

    @AfterEach
    void stop() {
        operator.stop();
        directory.close();
        agents.forEach(s -> s.stop(0));
        client.pods().inNamespace("mithril-system").delete();
    }

    CompileCache create(String name, String budget) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget(budget);
        cc.setSpec(spec);
        return client.resource(cc).create();
    }

    CompileCache get(String name) {
        return client.resources(CompileCache.class)
                .inNamespace(ns)
                .withName(name)
                .get();
    }

    static Condition cond(CompileCache cc, String type) {
        return cc.getStatus().getConditions().stream()
                .filter(c -> c.getType().equals(type))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void reconcile_aggregatesTwoAgents_setsConditionsAndObservedGeneration() throws Exception {
        agent("gpu-1")
                .set("{\"groups\":[" + group(ns, "gpt", "cuda-9.0", 10, 3L << 20, 30, 10) + ","
                        + group("other", "gpt", "cuda-9.0", 99, 99L << 20, 99, 0) + "]}");
        agent("gpu-2").set("{\"groups\":[" + group(ns, "gpt", "cuda-8.0", 5, 1L << 20, 0, 10) + "]}");
        create("gpt", "20Gi");
        await().atMost(Duration.ofSeconds(30))
                .until(() ->
                        get("gpt").getStatus() != null && get("gpt").getStatus().getNodes() == 2);
        CompileCache cc = get("gpt");
        assertThat(cc.getStatus().getEntries()).isEqualTo(15);
        assertThat(cc.getStatus().getUsedBytes()).isEqualTo(4L << 20);
        assertThat(cc.getStatus().getUsed()).isEqualTo("4.0Mi");
        assertThat(cc.getStatus().getHitRatio())
                .isEqualTo("60%"); // 30 hits of 50 lookups; the other namespace does not count
        assertThat(cc.getStatus().getDeviceClasses()).containsExactly("cuda-8.0/nvidia-h100", "cuda-9.0/nvidia-h100");
        assertThat(cc.getStatus().getObservedGeneration())
                .isEqualTo(cc.getMetadata().getGeneration());
        assertThat(cond(cc, "Ready").getStatus()).isEqualTo("True");
        assertThat(cond(cc, "AgentsReporting").getMessage()).isEqualTo("2 of 2 node agents answered");
        String since = cond(cc, "Ready").getLastTransitionTime();
        String rv = cc.getMetadata().getResourceVersion();
        Thread.sleep(2000); // several resyncs with nothing new: no write, same transition time
        assertThat(get("gpt").getMetadata().getResourceVersion()).isEqualTo(rv);
        assertThat(cond(get("gpt"), "Ready").getLastTransitionTime()).isEqualTo(since);

        CompileCache edited = get("gpt");
        edited.getSpec().setBudget("2Mi"); // gpu-1 holds 3 MiB of it: over budget
        client.resource(edited).update();
        await().atMost(Duration.ofSeconds(30))
                .until(() -> get("gpt").getStatus().getObservedGeneration() == 2L);
        assertThat(cond(get("gpt"), "WithinBudget").getReason()).isEqualTo("OverBudget");
        await().atMost(Duration.ofSeconds(10))
                .until(() -> client.v1().events().inNamespace(ns).list().getItems().stream()
                        .anyMatch(e -> "OverBudget".equals(e.getReason())
                                && "Warning".equals(e.getType())
                                && "gpt".equals(e.getInvolvedObject().getName())));
    }

    @Test
    void reconcile_noAgents_isNotReady_withAWarningEvent() {
        create("lonely", "1Gi");
        await().atMost(Duration.ofSeconds(30)).until(() -> get("lonely").getStatus() != null);
        CompileCache cc = get("lonely");
        assertThat(cond(cc, "Ready").getStatus()).isEqualTo("False");
        assertThat(cond(cc, "Ready").getReason()).isEqualTo("NoAgentAnswered");
        assertThat(cc.getStatus().getHitRatio()).isEqualTo("-");
        await().atMost(Duration.ofSeconds(10))
                .until(() -> client.v1().events().inNamespace(ns).list().getItems().stream()
                        .anyMatch(e -> "NoAgentAnswered".equals(e.getReason())));
    }

    @Test
    void reconcile_malformedSpec_getsInvalidSpec_notAnExceptionLoop() {
        create("broken", "lots"); // the real API server's schema refuses this; the mock does not
        await().atMost(Duration.ofSeconds(30)).until(() -> get("broken").getStatus() != null);
        Condition ready = cond(get("broken"), "Ready");
        assertThat(ready.getReason()).isEqualTo("InvalidSpec");
        assertThat(ready.getMessage()).contains("spec.budget: not a size").contains("lots");
    }

    @Test
    void delete_isNotHeldByTheOperator() throws Exception {
        agent("gpu-1").set("{\"groups\":[" + group(ns, "gone", "cuda-9.0", 1, 10, 0, 1) + "]}");
        create("gone", "1Gi");
        await().atMost(Duration.ofSeconds(30)).until(() -> get("gone").getStatus() != null);
        assertThat(get("gone").getMetadata().getFinalizers()).isNullOrEmpty();
        client.resources(CompileCache.class).inNamespace(ns).withName("gone").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> get("gone") == null);
    }

    @Test
    void agentStats_areFetchedOncePerTtl_whateverTheNumberOfCompileCaches() throws Exception {
        agent("gpu-1").set("{\"groups\":[]}");
        agent("gpu-2").set("{\"groups\":[]}");
        AtomicLong nanos = new AtomicLong(); // a clock of the test's own: the TTL runs out only when it says
        Duration ttl = Duration.ofSeconds(5);
        try (AgentDirectory own = new AgentDirectory(
                client,
                new AgentDirectory.Config(
                        "mithril-system", "app.kubernetes.io/component=node-agent", 9464, ttl, Duration.ofSeconds(10)),
                nanos::get)) {
            own.start();
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> own.synced() && own.snapshot().reports().size() == 2);
            for (int i = 0; i < 50; i++) {
                assertThat(own.snapshot().reports()).hasSize(2);
            }
            assertThat(own.fetches()).as("one per agent within the TTL").isEqualTo(2);
            nanos.addAndGet(ttl.toNanos() + 1);
            for (int i = 0; i < 50; i++) {
                assertThat(own.snapshot().reports()).hasSize(2);
            }
            assertThat(own.fetches()).as("one more per agent once it ran out").isEqualTo(4);
        }
    }
}
