package io.mithril.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The real deployables as separate processes, through their launchers ({@code bin/mithril-operator},
 * {@code bin/mithril-agent}), talking to the API server through a kubeconfig as in a cluster. Each
 * process's output goes to {@code e2e/target/e2e-logs/NAME.log}.
 */
final class Processes implements AutoCloseable {

    static final Path REPO = Path.of(System.getProperty("user.dir")).getParent();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path logs;
    private final Path kubeconfig;
    private final List<Process> all = new ArrayList<>();

    Processes(Path workdir, String apiServerUrl) throws IOException {
        // kept after the run (the temp folder is not): e2e/target/e2e-logs
        this.logs = Files.createDirectories(REPO.resolve("e2e/target/e2e-logs"));
        this.kubeconfig = writeKubeconfig(workdir.resolve("kubeconfig"), apiServerUrl);
    }

    /** A kubeconfig for the mock API server at {@code apiServerUrl} (any token, its certificate not checked). */
    static Path writeKubeconfig(Path file, String apiServerUrl) throws IOException {
        return Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster:
                    server: %s
                    insecure-skip-tls-verify: true
                users:
                - name: e2e
                  user:
                    token: e2e-token
                contexts:
                - name: mock
                  context:
                    cluster: mock
                    user: e2e
                current-context: mock
                """.formatted(apiServerUrl));
    }

    /** Skips the test where it cannot run: it needs root and the packaged jars the launchers start. */
    static void assumeRunnable() {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root: the kubelet stand-in bind-mounts volumes and switches users");
        Assumptions.assumeTrue(
                Files.isRegularFile(REPO.resolve("operator/target/mithril-operator.jar"))
                        && Files.isRegularFile(REPO.resolve("node-agent/target/mithril-agent.jar")),
                "needs the packaged jars (mvn package)");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    Process start(String name, List<String> command) throws IOException {
        return start(name, command, Map.of());
    }

    /** Starts {@code command}, its output to {@code NAME.log}, with {@code env} added to the environment. */
    Process start(String name, List<String> command, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        logs.resolve(name + ".log").toFile()));
        pb.environment().put("KUBECONFIG", kubeconfig.toString());
        pb.environment().remove("KUBERNETES_SERVICE_HOST");
        pb.environment()
                .put(
                        "MITHRIL_JAVA_OPTS",
                        "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=info");
        pb.environment().putAll(env);
        Process p = pb.start();
        all.add(p);
        return p;
    }

    /**
     * What an operator process needs from the mock API server besides CRUD: the answer to the rules
     * review JOSDK sends before electing, and the MutatingWebhookConfiguration whose caBundle it keeps.
     */
    static void prepareApiServer(KubernetesMockServer server, KubernetesClient client) {
        // JOSDK asks whether it may use Leases before electing; the mock server cannot answer that review
        server.expect()
                .post()
                .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
                .andReturn(
                        201,
                        new SelfSubjectRulesReviewBuilder()
                                .withNewMetadata()
                                .endMetadata()
                                .withNewSpec()
                                .withNamespace("mithril-system")
                                .endSpec()
                                .withNewStatus()
                                .withIncomplete(false)
                                .addNewResourceRule()
                                .withApiGroups("coordination.k8s.io")
                                .withResources("leases")
                                .withVerbs("*")
                                .endResourceRule()
                                .endStatus()
                                .build())
                .always();
        client.admissionRegistration()
                .v1()
                .mutatingWebhookConfigurations()
                .resource(new MutatingWebhookConfigurationBuilder()
                        .withNewMetadata()
                        .withName("mithril")
                        .endMetadata()
                        .addNewWebhook()
                        .withName("pods.mithril.io")
                        .withNewClientConfig()
                        .withNewService()
                        .withName("mithril-webhook")
                        .withNamespace("mithril-system")
                        .withPath("/mutate-pods")
                        .endService()
                        .endClientConfig()
                        .withAdmissionReviewVersions("v1")
                        .withSideEffects("None")
                        .withFailurePolicy("Ignore")
                        .endWebhook()
                        .build())
                .create();
    }

    /** The operator, its webhook on {@code port}; leader election on, server-side apply off (the mock lacks it). */
    Process operator(int port) throws IOException {
        return start(
                "operator",
                List.of(
                        REPO.resolve("bin/mithril-operator").toString(),
                        "--namespace",
                        "mithril-system",
                        "--listen",
                        "127.0.0.1:" + port,
                        "--metrics-listen",
                        "127.0.0.1:0",
                        "--identity",
                        "operator-0",
                        "--server-side-apply=false",
                        "--resync",
                        "2",
                        "--stats-ttl",
                        "1"));
    }

    /** A node agent in Kubernetes mode for {@code node}, its store and views under the node's host folder. */
    Process agent(Node node, int port, String budget) throws IOException {
        return agent(node, port, budget, List.of(), Map.of());
    }

    /** {@link #agent(Node, int, String)} with more options of {@code serve} and more environment (e.g. a remote's). */
    Process agent(Node node, int port, String budget, List<String> serveOptions, Map<String, String> env)
            throws IOException {
        Files.createDirectories(node.kubelet.host(
                "/var/lib/mithril/store")); // the chart's hostPath exists; the agent never invents a root
        List<String> command = new ArrayList<>(List.of(
                REPO.resolve("bin/mithril-agent").toString(),
                "--root",
                node.kubelet.host("/var/lib/mithril/store").toString(),
                "--budget",
                budget,
                "serve",
                "--kubernetes",
                "--node-field-selector=false",
                "--node-name",
                node.name,
                "--listen",
                "127.0.0.1:" + port,
                "--volumes",
                node.kubelet.host("/var/lib/mithril/volumes").toString(),
                "--ingest-interval",
                "1s"));
        command.addAll(serveOptions);
        return start("agent-" + node.name, command, env);
    }

    /**
     * {@link #agent(Node, int, String, List, Map)} once it answers {@code /readyz}, and what the
     * DaemonSet controller and kubelet would report: the agent's pod, Ready, with its port.
     */
    Process readyAgent(Node node, int port, String budget, List<String> serveOptions, Map<String, String> env)
            throws Exception {
        Process p = agent(node, port, budget, serveOptions, env);
        awaitHttp("http://127.0.0.1:" + port + "/readyz", p, Duration.ofSeconds(90));
        node.client
                .pods()
                .inNamespace("mithril-system")
                .resource(new PodBuilder()
                        .withNewMetadata()
                        .withName("agent-" + node.name)
                        .withNamespace("mithril-system")
                        .addToLabels("app.kubernetes.io/component", "node-agent")
                        .endMetadata()
                        .withNewSpec()
                        .withNodeName(node.name)
                        .addNewContainer()
                        .withName("agent")
                        .withImage("mithril-node-agent")
                        .addNewPort()
                        .withName("http")
                        .withContainerPort(port)
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
        return p;
    }

    /** GET {@code path} of the agent on {@code port}: its body. */
    static String agentGet(int port, String path) throws Exception {
        return HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }

    /** The agent's per-group report for a namespace's cache, from its /v1/stats; null when it has none. */
    static JsonNode group(int port, String namespace) throws Exception {
        for (JsonNode g : JSON.readTree(agentGet(port, "/v1/stats")).path("groups")) {
            if (namespace.equals(g.path("namespace").asText())) {
                return g;
            }
        }
        return null;
    }

    /** Waits until GET {@code url} answers 200. */
    static void awaitHttp(String url, Process p, Duration within) throws Exception {
        javax.net.ssl.SSLContext any = insecure();
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IOException("process exited with " + p.exitValue() + " before " + url + " answered");
            }
            try {
                java.net.HttpURLConnection c =
                        (java.net.HttpURLConnection) URI.create(url).toURL().openConnection();
                if (c instanceof javax.net.ssl.HttpsURLConnection https) {
                    https.setSSLSocketFactory(any.getSocketFactory());
                    https.setHostnameVerifier((h, sess) -> true);
                }
                c.setConnectTimeout(1000);
                c.setReadTimeout(2000);
                if (c.getResponseCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(200);
        }
        throw new IOException(url + " did not answer 200 within " + within);
    }

    /** Only for readiness polls of our own processes on loopback (the webhook's name is checked in {@link Cluster}). */
    private static javax.net.ssl.SSLContext insecure() throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(
                null,
                new javax.net.ssl.TrustManager[] {
                    new javax.net.ssl.X509TrustManager() {
                        @Override
                        public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}

                        @Override
                        public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}

                        @Override
                        public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                            return new java.security.cert.X509Certificate[0];
                        }
                    }
                },
                null);
        return ctx;
    }

    static void kill(Process p) throws InterruptedException {
        p.destroyForcibly(); // SIGKILL
        p.waitFor(30, TimeUnit.SECONDS);
    }

    Path log(String name) {
        return logs.resolve(name + ".log");
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : all) {
            p.destroy();
        }
        for (Process p : all) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
