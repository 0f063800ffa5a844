package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.readiness.Readiness;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.CompileCacheStatus;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.RemoteDockerImage;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * Mithril as a user installs it: both images built from their Dockerfiles, a real k3s (in a container),
 * the Helm chart, a node that claims a GPU, a CompileCache and annotated pods that compile and then hit.
 * Needs a Docker engine and network access to Docker Hub (k3s, the JRE base, busybox); where no engine
 * answers, Testcontainers disables the whole class and JUnit reports it skipped, with the reason
 * "disabledWithoutDocker is true and Docker is not available". Needs the packaged jars
 * ({@code mvn -DskipTests package}; a reactor {@code mvn verify} packages them before this module).
 *
 * <p>Assumptions this test could not check where it was written (no engine there), each marked ASSUMPTION below:
 * the chart's value names and labels, k3s' bundled {@code ctr}, and that hostPath views with hard links
 * work inside the k3s container as on a node.
 */
@ExtendWith(K3sE2E.SkipNotice.class) // before @Testcontainers: conditions run in this order, and its disables
@Testcontainers(disabledWithoutDocker = true)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class K3sE2E {

    static final Path REPO = Path.of("").toAbsolutePath().getParent(); // failsafe runs in e2e/
    static final String NS = "mithril-system";
    static final String TAG = "e2e";
    static final String OPERATOR_IMAGE = "ghcr.io/mithril-io/mithril-operator";
    static final String AGENT_IMAGE = "ghcr.io/mithril-io/mithril-node-agent";
    /** The operator's default --wait-image; the workload uses it too, so k3s needs one small image besides ours. */
    static final String BUSYBOX = "busybox:1.36";

    @Container
    static final K3sContainer K3S = new K3sContainer(DockerImageName.parse("rancher/k3s:v1.31.9-k3s1"));

    static KubernetesClient client;
    static String nodeName;

    @BeforeAll
    static void installMithril() throws Exception {
        System.out.println("K3sE2E: a Docker engine answered; building images and installing the chart into k3s");
        assertThat(REPO.resolve("charts/mithril/Chart.yaml"))
                .as("the Helm chart")
                .exists();

        loadIntoK3s(build("operator", "mithril-operator", OPERATOR_IMAGE));
        loadIntoK3s(build("node-agent", "mithril-agent", AGENT_IMAGE));
        new RemoteDockerImage(DockerImageName.parse(BUSYBOX)).get(); // pulled once by the host's engine
        loadIntoK3s(BUSYBOX);

        String kubeconfig = K3S.getKubeConfigYaml();
        client = new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(kubeconfig))
                .build();
        await().atMost(Duration.ofMinutes(2))
                .until(() -> client.nodes().list().getItems().stream().anyMatch(Readiness::isNodeReady));
        nodeName = client.nodes().list().getItems().get(0).getMetadata().getName();
        fakeGpu(nodeName); // before the agent starts: it reads its node's labels once

        // ASSUMPTION: the chart's values as announced (operator.image.*, agent.image.*, agent.nodeBudget,
        // certManager.enabled); pullPolicy under each image. Without cert-manager the operator keeps its own CA.
        new Helm(REPO.resolve("charts/mithril"))
                .install()
                .withName("mithril")
                .withNamespace(NS)
                .createNamespace()
                .withKubeConfigContents(kubeconfig)
                .set("operator.image.repository", OPERATOR_IMAGE)
                .set("operator.image.tag", TAG)
                .set("operator.image.pullPolicy", "Never")
                .set("agent.image.repository", AGENT_IMAGE)
                .set("agent.image.tag", TAG)
                .set("agent.image.pullPolicy", "Never")
                .set("agent.nodeBudget", "1Gi")
                .set("certManager.enabled", "false")
                .waitReady()
                .withTimeout(300)
                .call();

        await().atMost(Duration.ofMinutes(3)).untilAsserted(() -> {
            List<Pod> pods = client.pods().inNamespace(NS).list().getItems().stream()
                    .filter(p -> !"Succeeded".equals(p.getStatus().getPhase()))
                    .toList(); // hook Jobs, if any
            assertThat(pods)
                    .as("operator and agent pods")
                    .hasSizeGreaterThanOrEqualTo(2)
                    .allMatch(Readiness::isPodReady);
        });
        // The operator writes the webhook's caBundle after it starts; pods created before that are not injected.
        await().atMost(Duration.ofMinutes(2)).until(K3sE2E::webhookHasCaBundle);
    }

    /**
     * Says on the console, in one line, why the class is skipped; Testcontainers' own words are an ERROR
     * log about strategies and a reason that Maven keeps in the XML report only. Decides nothing.
     */
    static final class SkipNotice implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (context.getTestMethod().isEmpty()
                    && !DockerClientFactory.instance().isDockerAvailable()) {
                System.out.println(
                        "K3sE2E SKIPPED: no Docker engine here, so no images, no k3s, no chart; none of its tests ran.");
            }
            return ConditionEvaluationResult.enabled("a notice only");
        }
    }

    @AfterAll
    static void closeClient() {
        if (client != null) {
            client.close();
        }
    }

    @Test
    @Order(1)
    void coldThenWarm_secondPodOnTheNode_readsWhatTheFirstCompiled() throws Exception {
        createNamespaceWithCache("team-a");

        assertThat(runInjectedPod("team-a", "train-1")).isEqualTo("MISS");
        // The agent ingests when the pod ends; the operator reports it (resync 30 s, agent stats cached 15 s).
        await().atMost(Duration.ofMinutes(3)).untilAsserted(() -> {
            CompileCacheStatus s = status("team-a");
            assertThat(s.getEntries())
                    .as("entries ingested from train-1")
                    .isNotNull()
                    .isGreaterThanOrEqualTo(2L);
            assertThat(s.getNodes()).as("nodes holding entries").isNotNull().isGreaterThanOrEqualTo(1);
        });

        assertThat(runInjectedPod("team-a", "train-2")).isEqualTo("HIT");
        await().atMost(Duration.ofMinutes(3)).untilAsserted(() -> {
            CompileCacheStatus s = status("team-a");
            assertThat(s.getHitRatio()).as("hit ratio in kubectl get cc").matches("[1-9]\\d*%");
            assertThat(s.getDeviceClasses()).contains("cuda-9.0/nvidia-h100-80gb-hbm3");
        });
    }

    @Test
    @Order(2)
    void operatorDown_annotatedPodsStillStart_cold() throws Exception {
        createNamespaceWithCache("team-b");
        // ASSUMPTION: the operator is the chart's only Deployment whose name says so.
        Deployment operator = client.apps().deployments().inNamespace(NS).list().getItems().stream()
                .filter(d -> d.getMetadata().getName().contains("operator"))
                .findFirst()
                .orElseThrow();
        String name = operator.getMetadata().getName();
        int replicas = Objects.requireNonNullElse(operator.getSpec().getReplicas(), 1);
        client.apps().deployments().inNamespace(NS).withName(name).scale(0);
        try {
            await().atMost(Duration.ofMinutes(2))
                    .until(() -> client.pods()
                            .inNamespace(NS)
                            .withLabels(operator.getSpec().getSelector().getMatchLabels())
                            .list()
                            .getItems()
                            .isEmpty());

            // failurePolicy Ignore: the API server cannot reach the webhook and admits the pod unchanged.
            Pod pod = client.resource(workloadPod("team-b", "train-down")).create();
            assertThat(pod.getMetadata().getAnnotations()).doesNotContainKey("mithril.io/injected");
            assertThat(awaitOutput(pod)).isEqualTo("MISS");
        } finally {
            client.apps().deployments().inNamespace(NS).withName(name).scale(replicas);
            await().atMost(Duration.ofMinutes(2))
                    .until(() -> client.apps()
                            .deployments()
                            .inNamespace(NS)
                            .withName(name)
                            .isReady());
        }
    }

    @Test
    @Order(3)
    void baselineNamespace_guaranteedPod_isAdmitted_injectedWithoutHostPath_staysGuaranteed() throws Exception {
        createNamespaceWithCache("team-baseline", "baseline");
        Pod pod = workloadPod("team-baseline", "train-guaranteed");
        pod.getSpec()
                .getContainers()
                .get(0)
                .getResources()
                .setLimits(java.util.Map.of(
                        "nvidia.com/gpu",
                        new Quantity("1"),
                        "cpu",
                        new Quantity("200m"),
                        "memory",
                        new Quantity("128Mi")));
        // the API server's Pod Security admission would reject a hostPath here: the webhook must not inject one
        assertThat(runInjectedPod(pod)).isEqualTo("MISS");
        Pod admitted = client.pods()
                .inNamespace("team-baseline")
                .withName("train-guaranteed")
                .get();
        assertThat(admitted.getMetadata().getAnnotations()).containsEntry("mithril.io/injected-volume", "EmptyDir");
        assertThat(admitted.getSpec().getVolumes()).noneMatch(v -> v.getHostPath() != null);
        assertThat(admitted.getStatus().getQosClass())
                .as("kubelet's own verdict")
                .isEqualTo("Guaranteed");
    }

    /**
     * Builds a module's image from its Dockerfile. The context holds just what the Dockerfile copies, at the
     * paths it names (relative to the repository root, as .dockerignore lets through), and the Dockerfile
     * itself under the default name.
     */
    static String build(String module, String finalName, String repository) {
        Path target = REPO.resolve(module).resolve("target");
        assertThat(target.resolve(finalName + ".jar"))
                .as("packaged jar (mvn -DskipTests package)")
                .exists();
        return new ImageFromDockerfile(repository + ":" + TAG, true)
                .withFileFromPath("Dockerfile", REPO.resolve(module).resolve("Dockerfile"))
                .withFileFromPath(module + "/target/" + finalName + ".jar", target.resolve(finalName + ".jar"))
                .withFileFromPath(module + "/target/lib", target.resolve("lib"))
                .get();
    }

    /** docker save on the host, ctr import in k3s: k3s runs its own containerd and never sees the host's images. */
    static void loadIntoK3s(String image) throws Exception {
        Path tar = Files.createTempFile("mithril-image", ".tar");
        try {
            DockerImageName name = DockerImageName.parse(image);
            try (InputStream in = DockerClientFactory.instance()
                    .client()
                    .saveImageCmd(name.getUnversionedPart())
                    .withTag(name.getVersionPart())
                    .exec()) {
                Files.copy(in, tar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            String inContainer = "/tmp/" + tar.getFileName();
            K3S.copyFileToContainer(MountableFile.forHostPath(tar), inContainer);
            // ASSUMPTION: the rancher/k3s image ships the k3s multi-call binary with its ctr (it does in v1.2x-v1.31).
            var r = K3S.execInContainer("k3s", "ctr", "-n", "k8s.io", "images", "import", inContainer);
            assertThat(r.getExitCode())
                    .as("ctr import %s: %s %s", image, r.getStdout(), r.getStderr())
                    .isZero();
            K3S.execInContainer("rm", "-f", inContainer);
        } finally {
            Files.deleteIfExists(tar);
        }
    }

    /**
     * What GPU feature discovery and the device plugin would say about an H100 node: the labels the agent
     * reads its device class from, and one nvidia.com/gpu in capacity (an extended resource the kubelet
     * keeps and copies to allocatable, as Kubernetes documents for "advertising extended resources").
     */
    static void fakeGpu(String node) {
        client.nodes()
                .withName(node)
                .edit(n -> new NodeBuilder(n)
                        .editMetadata()
                        .addToLabels("nvidia.com/gpu.present", "true")
                        .addToLabels("nvidia.com/gpu.compute.major", "9")
                        .addToLabels("nvidia.com/gpu.compute.minor", "0")
                        .addToLabels("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")
                        .endMetadata()
                        .build());
        client.nodes()
                .withName(node)
                .editStatus(n -> new NodeBuilder(n)
                        .editStatus()
                        .addToCapacity("nvidia.com/gpu", new Quantity("1"))
                        .addToAllocatable("nvidia.com/gpu", new Quantity("1"))
                        .endStatus()
                        .build());
        await().atMost(Duration.ofSeconds(30))
                .until(() -> client.nodes()
                        .withName(node)
                        .get()
                        .getStatus()
                        .getAllocatable()
                        .containsKey("nvidia.com/gpu"));
    }

    static boolean webhookHasCaBundle() {
        return client.admissionRegistration().v1().mutatingWebhookConfigurations().list().getItems().stream()
                .flatMap(c -> c.getWebhooks().stream())
                .filter(w -> w.getClientConfig().getService() != null
                        && NS.equals(w.getClientConfig().getService().getNamespace()))
                .map(MutatingWebhook::getClientConfig)
                .anyMatch(c -> c.getCaBundle() != null && !c.getCaBundle().isEmpty());
    }

    static void createNamespaceWithCache(String namespace) throws Exception {
        createNamespaceWithCache(namespace, null);
    }

    /** With {@code podSecurity}, the namespace enforces that Pod Security level. */
    static void createNamespaceWithCache(String namespace, String podSecurity) throws Exception {
        var ns = new NamespaceBuilder()
                .withNewMetadata()
                .withName(namespace)
                .endMetadata()
                .build();
        if (podSecurity != null) {
            ns.getMetadata().setLabels(java.util.Map.of("pod-security.kubernetes.io/enforce", podSecurity));
        }
        client.resource(ns).create();
        String script = new String(
                Objects.requireNonNull(K3sE2E.class.getResourceAsStream("/k3s-workload.sh"))
                        .readAllBytes(),
                StandardCharsets.UTF_8);
        client.resource(new ConfigMapBuilder()
                        .withNewMetadata()
                        .withName("k3s-workload")
                        .withNamespace(namespace)
                        .endMetadata()
                        .addToData("workload.sh", script)
                        .build())
                .create();
        CompileCache cc = new CompileCache();
        cc.setMetadata(
                new ObjectMetaBuilder().withName("gpt").withNamespace(namespace).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget("100Mi");
        spec.setPublishTimeoutSeconds(60);
        cc.setSpec(spec);
        client.resource(cc).create();
    }

    static CompileCacheStatus status(String namespace) {
        CompileCacheStatus s = client.resources(CompileCache.class)
                .inNamespace(namespace)
                .withName("gpt")
                .get()
                .getStatus();
        assertThat(s).as("status of %s/gpt", namespace).isNotNull();
        return s;
    }

    /** A training pod as a user writes it: one GPU, annotated, non-root, running the workload script. */
    static Pod workloadPod(String namespace, String name) {
        return new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace)
                .addToAnnotations("mithril.io/cache", "enabled")
                .endMetadata()
                .withNewSpec()
                .withRestartPolicy("Never")
                .withNewSecurityContext()
                .withRunAsUser(1000L)
                .withRunAsGroup(1000L)
                .withRunAsNonRoot(true)
                .endSecurityContext()
                .addNewContainer()
                .withName("train")
                .withImage(BUSYBOX)
                .withImagePullPolicy("IfNotPresent")
                .withCommand("sh", "/workload/workload.sh")
                .withNewResources()
                .addToLimits("nvidia.com/gpu", new Quantity("1"))
                .endResources()
                .addNewVolumeMount()
                .withName("workload")
                .withMountPath("/workload")
                .withReadOnly(true)
                .endVolumeMount()
                .endContainer()
                .addNewVolume()
                .withName("workload")
                .withNewConfigMap()
                .withName("k3s-workload")
                .endConfigMap()
                .endVolume()
                .endSpec()
                .build();
    }

    /**
     * Creates the pod through the webhook and returns its output. A pod the webhook did not inject (the API
     * server may still cache a webhook configuration without caBundle for a moment) is deleted and tried again.
     */
    static String runInjectedPod(String namespace, String name) {
        return runInjectedPod(workloadPod(namespace, name));
    }

    static String runInjectedPod(Pod template) {
        String namespace = template.getMetadata().getNamespace();
        String name = template.getMetadata().getName();
        Pod[] created = new Pod[1];
        await().atMost(Duration.ofMinutes(1))
                .pollInterval(Duration.ofSeconds(3))
                .until(() -> {
                    Pod p = client.resource(new PodBuilder(template).build()).create();
                    if (p.getMetadata().getAnnotations().containsKey("mithril.io/injected")) {
                        created[0] = p;
                        return true;
                    }
                    client.resource(p).withGracePeriod(0).delete();
                    client.resource(p).waitUntilCondition(Objects::isNull, 30, java.util.concurrent.TimeUnit.SECONDS);
                    return false;
                });
        String out = awaitOutput(created[0]);
        String init = client.pods()
                .inNamespace(namespace)
                .withName(name)
                .inContainer("mithril-wait")
                .getLog();
        assertThat(init).as("the wait step found the agent's view").contains("mithril: cache view ready");
        return out;
    }

    /** Waits for the pod to end and returns the workload's last line; a failed pod fails the test with its log. */
    static String awaitOutput(Pod pod) {
        var resource = client.pods()
                .inNamespace(pod.getMetadata().getNamespace())
                .withName(pod.getMetadata().getName());
        await().atMost(Duration.ofMinutes(4)).until(() -> {
            String phase = resource.get().getStatus().getPhase();
            return "Succeeded".equals(phase) || "Failed".equals(phase);
        });
        String log = resource.inContainer("train").getLog();
        assertThat(resource.get().getStatus().getPhase())
                .as("pod %s; its log: %s", pod.getMetadata().getName(), log)
                .isEqualTo("Succeeded");
        String[] lines = log.strip().split("\n");
        return lines[lines.length - 1].strip();
    }
}
