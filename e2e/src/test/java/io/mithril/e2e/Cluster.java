package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.zjsonpatch.JsonPatch;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.RemoteSpec;
import io.mithril.operator.OperatorMain;
import io.mithril.operator.agents.AgentDirectory;
import io.mithril.operator.webhook.Injection;
import io.mithril.operator.webhook.VolumeMode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The control plane of the end-to-end tests: the mock API server (given), the real operator on it,
 * and what the API server does for a pod: the admission call to the webhook over HTTPS (trusting the
 * CA the operator published), the JSON patch applied, the pod stored and bound to a node.
 */
final class Cluster implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    final KubernetesClient client;
    OperatorMain.Running operator;
    private SSLContext trust;
    private int webhookPort;
    /** Pods made by {@link #run}: their names are train-1, train-2, ... */
    private int pods;

    /** A pod that ran: as bound, and the exits of its containers (the injected wait step first). */
    record Ran(Pod pod, List<FakeKubelet.Exit> exits) {
        String workloadOutput() {
            return exits.get(exits.size() - 1).output().trim();
        }
    }

    Cluster(KubernetesClient client) {
        this.client = client;
    }

    Cluster startOperator() throws Exception {
        return startOperator(VolumeMode.HostPath);
    }

    Cluster startOperator(VolumeMode mode) throws Exception {
        operator = OperatorMain.start(
                client,
                new OperatorMain.Settings(
                        "mithril-system",
                        new InetSocketAddress("127.0.0.1", 0),
                        "mithril-webhook",
                        "mithril",
                        null,
                        AgentDirectory.Config.defaults("mithril-system"),
                        Duration.ofSeconds(2),
                        null,
                        Injection.defaults().withMode(mode),
                        false));
        return attach(operator.webhook().port());
    }

    /** Sends admissions to a webhook on this port (an operator process), trusting the CA in its Secret. */
    Cluster attach(int port) throws Exception {
        webhookPort = port;
        String ca = new String(
                Base64.getDecoder()
                        .decode(client.secrets()
                                .inNamespace("mithril-system")
                                .withName("mithril-webhook-tls")
                                .get()
                                .getData()
                                .get("ca.crt")),
                StandardCharsets.US_ASCII);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        int i = 0;
        for (var c : CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(ca.getBytes(StandardCharsets.US_ASCII)))) {
            ks.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        trust = SSLContext.getInstance("TLS");
        trust.init(null, tmf.getTrustManagers(), null);
        return this;
    }

    CompileCache compileCache(String namespace, String name, int publishTimeoutSeconds) {
        return compileCache(namespace, name, publishTimeoutSeconds, null);
    }

    /** A CompileCache with a budget of 1Gi and {@code remote} as its spec.remote (null: none given). */
    CompileCache compileCache(String namespace, String name, int publishTimeoutSeconds, RemoteSpec remote) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(
                new ObjectMetaBuilder().withName(name).withNamespace(namespace).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setPublishTimeoutSeconds(publishTimeoutSeconds);
        spec.setBudget("1Gi");
        spec.setRemote(remote);
        cc.setSpec(spec);
        return client.resource(cc).create();
    }

    /** A training pod as a user writes it: one GPU container, annotated for the cache, running as {@code uid}. */
    static Pod gpuPod(String namespace, String name, long uid) {
        return new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace)
                .addToAnnotations("mithril.io/cache", "enabled")
                .endMetadata()
                .withNewSpec()
                .withNewSecurityContext()
                .withRunAsUser(uid)
                .withRunAsNonRoot(uid != 0)
                .withFsGroup(2000L)
                .endSecurityContext()
                .addNewContainer()
                .withName("train")
                .withImage("nvcr.io/nvidia/pytorch:25.10-py3")
                .withNewResources()
                .addToLimits("nvidia.com/gpu", new Quantity("1"))
                .endResources()
                .endContainer()
                .endSpec()
                .build();
    }

    /** What the API server does on create: the webhook's AdmissionReview over HTTPS, its patch applied. */
    Pod admit(Pod pod) throws Exception {
        AdmissionReview review = new AdmissionReviewBuilder()
                .withApiVersion("admission.k8s.io/v1")
                .withKind("AdmissionReview")
                .withNewRequest()
                .withUid(UUID.randomUUID().toString())
                .withOperation("CREATE")
                .withNamespace(pod.getMetadata().getNamespace())
                .withName(pod.getMetadata().getName())
                .withNewKind("", "Pod", "v1")
                .withNewResource("", "pods", "v1")
                .withObject(pod)
                .endRequest()
                .build();
        HttpsURLConnection c =
                (HttpsURLConnection) URI.create("https://127.0.0.1:" + webhookPort + "/mutate-pods?timeout=10s")
                        .toURL()
                        .openConnection();
        c.setSSLSocketFactory(trust.getSocketFactory());
        c.setHostnameVerifier((host, session) -> { // the API server calls the Service name; so must the certificate say
            try {
                return ((X509Certificate) session.getPeerCertificates()[0])
                        .getSubjectAlternativeNames().stream()
                                .anyMatch(n -> "mithril-webhook.mithril-system.svc".equals(n.get(1)));
            } catch (Exception e) {
                return false;
            }
        });
        c.setConnectTimeout(3000); // the webhook's timeoutSeconds
        c.setReadTimeout(3000);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/json");
        try (OutputStream out = c.getOutputStream()) {
            out.write(Serialization.asJson(review).getBytes(StandardCharsets.UTF_8));
        }
        if (c.getResponseCode() != 200) {
            throw new IOException("webhook answered " + c.getResponseCode());
        }
        JsonNode resp;
        try (InputStream in = c.getInputStream()) {
            resp = JSON.readTree(in).get("response");
        }
        if (!resp.path("allowed").asBoolean()) {
            throw new IOException("webhook refused the pod: " + resp);
        }
        if (!resp.has("patch")) {
            return pod;
        }
        JsonNode patch =
                JSON.readTree(Base64.getDecoder().decode(resp.get("patch").asText()));
        JsonNode patched = JsonPatch.apply(patch, JSON.valueToTree(pod));
        return JSON.treeToValue(patched, Pod.class);
    }

    /**
     * What the API server does with {@code failurePolicy: Ignore}: a webhook that cannot be reached
     * (operator down) or fails admits the pod unchanged.
     */
    Pod admitOrIgnore(Pod pod) {
        try {
            return admit(pod);
        } catch (Exception e) {
            return pod;
        }
    }

    /** Stores the pod (the mock assigns its UID) and binds it to a node, as the scheduler would. */
    Pod createAndBind(Pod pod, String node) {
        Pod stored = client.resource(pod).create();
        stored.getSpec().setNodeName(node);
        stored.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                .withPhase("Pending")
                .build());
        return client.resource(stored).update();
    }

    /**
     * A training pod of {@code namespace} through admission (unchanged when the webhook cannot be
     * reached), bound to {@code node} and run by its kubelet, its container running {@code command};
     * every container must exit 0.
     */
    Ran run(Node node, String namespace, List<String> command) throws Exception {
        Pod bound = createAndBind(admitOrIgnore(gpuPod(namespace, "train-" + (++pods), 1000)), node.name);
        List<FakeKubelet.Exit> exits = node.kubelet.run(bound, Map.of("train", command), 180);
        assertThat(exits)
                .allSatisfy(e -> assertThat(e.code())
                        .as("%s said: %s", e.container(), e.output())
                        .isZero());
        return new Ran(bound, exits);
    }

    /** The pod ends (Succeeded, then deleted); waits until its node's agent has ingested and removed the view. */
    void end(Node node, Pod pod) {
        finish(pod);
        String uid = pod.getMetadata().getUid();
        await().atMost(Duration.ofSeconds(60)).until(() -> node.finished(uid));
    }

    void finish(Pod pod) {
        client.pods()
                .inNamespace(pod.getMetadata().getNamespace())
                .withName(pod.getMetadata().getName())
                .editStatus(p -> {
                    p.getStatus().setPhase("Succeeded");
                    return p;
                });
        client.pods()
                .inNamespace(pod.getMetadata().getNamespace())
                .withName(pod.getMetadata().getName())
                .delete();
    }

    @Override
    public void close() {
        if (operator != null) {
            operator.close();
        }
    }

    // ------------------------------------------------------------------ the fixture workload

    /** The real H100 fixture, extracted where any user can read it, and the list of files a warm start reads. */
    record Workload(Path script, Path cache, Path reads, int warmReads) {
        List<String> command() {
            return List.of("sh", script.toString(), cache.toString(), reads.toString());
        }
    }

    static Workload workload(Path tmp) throws Exception {
        Path shared = Path.of(System.getProperty("mithril.shared", "../../shared"));
        Path fx = shared.resolve("fixtures/torch211-h100-gpt12l");
        Path into = Files.createDirectories(tmp.resolve("fixture"));
        run("tar", "-xzf", fx.resolve("inductor-triton-cache.tar.gz").toString(), "-C", into.toString());
        run("chmod", "-R", "a+rX", tmp.toString());
        Matcher m = Pattern.compile("\\[\"open\", \"/tmp/mithril-probe/A/([^\"]+)\", \"r\"\\]")
                .matcher(Files.readString(fx.resolve("warm-start-file-events.json")));
        List<String> reads = new ArrayList<>();
        while (m.find()) {
            reads.add(m.group(1));
        }
        Path readsFile = Files.writeString(tmp.resolve("warm-reads.txt"), String.join("\n", reads) + "\n");
        Path script = tmp.resolve("fixture-workload.sh");
        try (InputStream in = Cluster.class.getResourceAsStream("/fixture-workload.sh")) {
            Files.write(script, in.readAllBytes());
        }
        run("chmod", "a+rx", script.toString(), readsFile.toString());
        return new Workload(script, into.resolve("cache"), readsFile, reads.size());
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
