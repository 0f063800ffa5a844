package io.mithril.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.operator.webhook.Injection;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two images as {@code images/build} wrote them ({@code target/images/*.oci.tar}, or
 * {@code $MITHRIL_IMAGE_DIR}), started from their own roots. Each archive is read as an OCI layout
 * (index, manifest, config; every blob's digest and every layer's diff_id checked), its layers are
 * unpacked in order into a folder, and the image's Entrypoint runs there by chroot as the image's
 * User, with its Env and WorkingDir and with /proc and /dev mounted, as a container runtime would start
 * it (without the runtime's namespaces for network, users and cgroups, which this machine's kernel
 * refuses to runtimes). The agent serves standalone and is fetched from here; the operator runs
 * against the mock API server and answers an AdmissionReview over HTTPS; the wait step it injects runs
 * in the operator image's own sh.
 *
 * <p>Where {@code MITHRIL_IMAGE_DIR} is set (CI) the archives must be there; elsewhere the test is
 * skipped when none were built. Needs root (chroot, mounts).
 */
@EnableKubernetesMockClient(crud = true)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImagesE2E {

    static KubernetesMockServer server;
    static KubernetesClient client;
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration START = Duration.ofSeconds(90);

    @TempDir
    static Path tmp;

    Image operator;
    Image agent;
    final List<Process> running = new ArrayList<>();

    /** An unpacked image: its root, the ref name it was built as, and what its config says about starting it. */
    record Image(
            String name,
            Path root,
            String user,
            List<String> env,
            List<String> entrypoint,
            List<String> cmd,
            String workdir) {}

    @BeforeAll
    void unpack() throws Exception {
        String set = System.getenv("MITHRIL_IMAGE_DIR");
        Path dir = set == null || set.isBlank() ? Processes.REPO.resolve("target/images") : Path.of(set);
        boolean built = Files.isRegularFile(dir.resolve("operator.oci.tar"))
                && Files.isRegularFile(dir.resolve("node-agent.oci.tar"));
        if (set == null || set.isBlank()) {
            Assumptions.assumeTrue(
                    built, "no images in target/images: run images/build (as root, after mvn -DskipTests package)");
            Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root: chroot and mounts");
        } else {
            assertThat(built)
                    .as("MITHRIL_IMAGE_DIR=%s is set but holds no operator.oci.tar and node-agent.oci.tar", set)
                    .isTrue();
            assertThat(System.getProperty("user.name"))
                    .as("MITHRIL_IMAGE_DIR is set: the images are started, which needs root")
                    .isEqualTo("root");
        }
        operator = unpack(dir.resolve("operator.oci.tar"), tmp.resolve("operator"));
        agent = unpack(dir.resolve("node-agent.oci.tar"), tmp.resolve("node-agent"));
    }

    @AfterAll
    void stop() throws Exception {
        for (Process p : running) {
            p.destroyForcibly();
            p.waitFor(20, TimeUnit.SECONDS);
        }
        // the roots' absolute links would each get a warning from the temp folder's cleanup
        exec(List.of(
                "rm",
                "-rf",
                "--one-file-system",
                tmp.resolve("operator").toString(),
                tmp.resolve("node-agent").toString()));
    }

    // ------------------------------------------------------------------------------------ the agent

    @Test
    void agent_startsFromItsRoot_asRoot_withTheImagesJvmOptions() throws Exception {
        assertThat(agent.user()).isEqualTo("0:0");
        Ran help = run(agent, "agent-help", List.of(), entrypoint(agent, "--help"));
        assertThat(help.exit()).as(help.output()).isZero();
        assertThat(help.output())
                .contains("Picked up JDK_JAVA_OPTIONS: " + env(agent, "JDK_JAVA_OPTIONS"))
                .contains("-XX:+UseSerialGC")
                .contains("Usage: mithril-agent");
    }

    @Test
    void agent_storesAndVerifies_withItsNativeFileAccess() throws Exception {
        Files.createDirectories(agent.root().resolve("tmp/cli-store")); // the agent makes no root of its own
        Ran put = run(
                agent,
                "agent-put",
                List.of(),
                entrypoint(agent, "--root", "/tmp/cli-store", "store", "put", "/usr/lib/os-release"));
        assertThat(put.exit()).as(put.output()).isZero();
        String address = put.output()
                .lines()
                .filter(l -> l.matches("[0-9a-f]{64}"))
                .findFirst()
                .orElseThrow(() -> new AssertionError(put.output()));
        Ran verify = run(agent, "agent-verify", List.of(), entrypoint(agent, "--root", "/tmp/cli-store", "verify"));
        assertThat(verify.exit()).as(verify.output()).isZero();
        // JNA unpacks its native part into java.io.tmpdir; without it the agent says so and falls back
        assertThat(put.output() + verify.output()).doesNotContain("native file access unavailable");
        Ran get = run(
                agent, "agent-get", List.of(), entrypoint(agent, "--root", "/tmp/cli-store", "store", "get", address));
        assertThat(get.exit()).isZero();
        assertThat(get.output()).contains(Files.readString(agent.root().resolve("usr/lib/os-release")));
    }

    @Test
    void agent_servesStandalone_andAnswersFromHere() throws Exception {
        int port = Processes.freePort();
        Files.createDirectories(agent.root().resolve("tmp/store"));
        Process p = start(
                agent,
                "agent-serve",
                List.of(),
                entrypoint(
                        agent, "--root", "/tmp/store", "--budget", "1GiB", "serve", "--listen", "127.0.0.1:" + port));
        Processes.awaitHttp("http://127.0.0.1:" + port + "/readyz", p, START);
        assertThat(get("http://127.0.0.1:" + port + "/healthz")).isEqualTo("ok\n");
        assertThat(get("http://127.0.0.1:" + port + "/metrics"))
                .contains("mithril_store_hard_limit_bytes " + (1L << 30));
        assertThat(agent.root().resolve("tmp/store"))
                .as("the store, made where --root says, inside the image's root")
                .isDirectory();
    }

    /**
     * The image's own Cmd, as a container started without arguments runs it: Kubernetes mode, the
     * store under /var/lib/mithril, port 9464. Against the mock API server, with what the chart adds
     * in the environment (NODE_NAME; KUBECONFIG in place of the service account).
     */
    @Test
    void agent_runsItsDefaultCommand_inKubernetesMode() throws Exception {
        assertThat(agent.cmd()).containsSubsequence("serve", "--kubernetes");
        int port = Integer.parseInt(
                agent.cmd().get(agent.cmd().indexOf("--listen") + 1).replaceAll(".*:", ""));
        try (java.net.ServerSocket probe = new java.net.ServerSocket(port)) {
            assertThat(probe.getLocalPort())
                    .as("port %d free on this machine for the agent's default command", port)
                    .isEqualTo(port);
        }
        client.nodes()
                .resource(new io.fabric8.kubernetes.api.model.NodeBuilder()
                        .withNewMetadata()
                        .withName("gpu-image")
                        .addToLabels("nvidia.com/gpu.compute.major", "9")
                        .addToLabels("nvidia.com/gpu.compute.minor", "0")
                        .addToLabels("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")
                        .endMetadata()
                        .build())
                .createOr(r -> r.update());
        Processes.writeKubeconfig(
                agent.root().resolve("tmp/kubeconfig"), client.getMasterUrl().toString());
        Files.createDirectories(agent.root().resolve("var/lib/mithril/store")); // the chart's hostPath
        Files.createDirectories(agent.root().resolve("var/lib/mithril/volumes"));
        List<String> argv = new ArrayList<>(agent.entrypoint());
        argv.addAll(agent.cmd());
        Process p = start(agent, "agent-default", List.of("KUBECONFIG=/tmp/kubeconfig", "NODE_NAME=gpu-image"), argv);
        Processes.awaitHttp("http://127.0.0.1:" + port + "/readyz", p, START);
        assertThat(get("http://127.0.0.1:" + port + "/metrics"))
                .contains("mithril_store_hard_limit_bytes " + (200L << 30));
    }

    // --------------------------------------------------------------------------------- the operator

    @Test
    void operator_startsFromItsRoot_asItsNumericNonRootUser() throws Exception {
        assertThat(operator.user()).matches("[1-9]\\d*:\\d+");
        Ran help = run(operator, "operator-help", List.of(), entrypoint(operator, "--help"));
        assertThat(help.exit()).as(help.output()).isZero();
        assertThat(help.output())
                .contains("Picked up JDK_JAVA_OPTIONS: " + env(operator, "JDK_JAVA_OPTIONS"))
                .contains("Usage: mithril-operator");
    }

    /**
     * The operator image against the mock API server, as the chart runs it (its own image as the wait
     * step's, the step's user left to the image), then the wait step it injected, run in that image's sh as the image's user: once with
     * the view published (links made), once without (waits out the timeout, starts cold).
     */
    @Test
    void operator_admitsAPodOverHttps_andItsWaitStepRunsInTheOperatorImage() throws Exception {
        Processes.prepareApiServer(server, client);
        Processes.writeKubeconfig(
                operator.root().resolve("tmp/kubeconfig"), client.getMasterUrl().toString());
        int port = Processes.freePort();
        Process p = start(
                operator,
                "operator-serve",
                List.of("KUBECONFIG=/tmp/kubeconfig"),
                entrypoint(
                        operator,
                        "--namespace",
                        "mithril-system",
                        "--listen",
                        "127.0.0.1:" + port,
                        "--metrics-listen",
                        "127.0.0.1:0",
                        "--identity",
                        "operator-image",
                        "--server-side-apply=false",
                        "--wait-image",
                        operator.name(),
                        "--wait-run-as-user="));
        Processes.awaitHttp("https://127.0.0.1:" + port + "/healthz", p, START);
        Cluster cluster = new Cluster(client).attach(port);
        cluster.compileCache("team-a", "gpt", 2);
        Pod pod = Cluster.gpuPod("team-a", "train-0", 1000);
        pod.getSpec().setSecurityContext(null); // no user named: the wait step runs as the image's USER

        Pod admitted = cluster.admit(pod);
        Container wait = admitted.getSpec().getInitContainers().stream()
                .filter(c -> Injection.INIT_CONTAINER.equals(c.getName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no wait step injected: " + admitted.getSpec()));
        assertThat(wait.getImage()).isEqualTo(operator.name());
        assertThat(wait.getSecurityContext().getRunAsUser())
                .as("left to the image, as the chart's default asks")
                .isNull();
        assertThat(wait.getSecurityContext().getRunAsNonRoot())
                .as("which the image's numeric USER satisfies")
                .isTrue();
        assertThat(wait.getCommand()).hasSize(3).startsWith("sh", "-c");

        Path view = operator.root().resolve("var/lib/mithril/view");
        Path cache = operator.root().resolve("var/cache/mithril");
        Files.createDirectories(view);
        Files.createDirectories(cache);
        Files.setPosixFilePermissions(
                cache, PosixFilePermissions.fromString("rwxrwxrwx")); // as kubelet makes an emptyDir
        Files.writeString(view.resolve(Injection.MARKER), "");
        List<String> podEnv =
                List.of(Injection.POD_UID_ENV + "=0b7c7a52-6b3c-4be1-9f40-5bb8f04a0e7d"); // from metadata.uid
        Ran warm = run(operator, "wait-warm", podEnv, wait.getCommand());
        assertThat(warm.exit()).as(warm.output()).isZero();
        assertThat(warm.output()).contains("mithril: cache view ready after 0s");
        List<Path> links;
        try (Stream<Path> s = Files.list(cache)) {
            links = s.sorted().toList();
        }
        assertThat(links).as("a link per framework folder").isNotEmpty().contains(cache.resolve("inductor"));
        for (Path l : links) {
            assertThat(Files.readSymbolicLink(l))
                    .isEqualTo(Path.of("/var/lib/mithril/view").resolve(l.getFileName()));
        }

        Files.delete(view.resolve(Injection.MARKER));
        for (Path l : links) {
            Files.delete(l);
        }
        long t0 = System.nanoTime();
        Ran cold = run(operator, "wait-cold", podEnv, wait.getCommand());
        assertThat(cold.exit()).as(cold.output()).isZero();
        assertThat(cold.output()).contains("mithril: no cache view after 2s; starting cold");
        assertThat(Duration.ofNanos(System.nanoTime() - t0))
                .as("slept out the timeout")
                .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        try (Stream<Path> s = Files.list(cache)) {
            assertThat(s.toList()).as("nothing linked without a view").isEmpty();
        }
    }

    // ------------------------------------------------------------------------------ unpack and run

    /** Reads the OCI archive, checks every digest, unpacks the layers in order; returns how to start the image. */
    static Image unpack(Path archive, Path into) throws Exception {
        Path layout = Files.createDirectories(into.resolve("layout"));
        Path root = Files.createDirectories(into.resolve("root"));
        exec(List.of("tar", "-xf", archive.toString(), "-C", layout.toString()));
        assertThat(JSON.readTree(layout.resolve("oci-layout").toFile())
                        .path("imageLayoutVersion")
                        .asText())
                .isEqualTo("1.0.0");
        JsonNode index = JSON.readTree(layout.resolve("index.json").toFile());
        assertThat(index.path("manifests")).as("one image in %s", archive).hasSize(1);
        JsonNode ref = index.path("manifests").get(0);
        JsonNode manifest = JSON.readTree(blob(layout, ref).toFile());
        JsonNode config = JSON.readTree(blob(layout, manifest.path("config")).toFile());
        JsonNode diffIds = config.path("rootfs").path("diff_ids");
        assertThat(manifest.path("layers").size()).isEqualTo(diffIds.size()).isGreaterThanOrEqualTo(2);
        for (int i = 0; i < diffIds.size(); i++) {
            JsonNode layer = manifest.path("layers").get(i);
            assertThat(layer.path("mediaType").asText()).isEqualTo("application/vnd.oci.image.layer.v1.tar+gzip");
            Path gz = blob(layout, layer);
            try (InputStream in = new GZIPInputStream(Files.newInputStream(gz), 1 << 16)) {
                assertThat("sha256:" + sha256(in))
                        .as("diff_id of layer %d", i)
                        .isEqualTo(diffIds.get(i).asText());
            }
            exec(List.of("tar", "-xzf", gz.toString(), "-C", root.toString(), "--numeric-owner"));
        }
        JsonNode c = config.path("config");
        return new Image(
                ref.path("annotations").path("io.containerd.image.name").asText(),
                root,
                c.path("User").asText(),
                strings(c.path("Env")),
                strings(c.path("Entrypoint")),
                strings(c.path("Cmd")),
                c.path("WorkingDir").asText("/"));
    }

    /** The blob a descriptor names, its size and digest checked. */
    static Path blob(Path layout, JsonNode descriptor) throws Exception {
        String digest = descriptor.path("digest").asText();
        assertThat(digest).startsWith("sha256:");
        Path p = layout.resolve("blobs/sha256").resolve(digest.substring(7));
        assertThat(Files.size(p))
                .as("size of %s", digest)
                .isEqualTo(descriptor.path("size").asLong());
        try (InputStream in = Files.newInputStream(p)) {
            assertThat("sha256:" + sha256(in)).as("digest of %s", p).isEqualTo(digest);
        }
        return p;
    }

    static String sha256(InputStream in) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
            md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static String env(Image image, String name) {
        return image.env().stream()
                .filter(e -> e.startsWith(name + "="))
                .map(e -> e.substring(name.length() + 1))
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + " not in the image's Env " + image.env()));
    }

    /**
     * argv in the image's root, as its User, in its WorkingDir, with its Env and {@code extraEnv} only. /proc and /dev are mounted in a mount and PID namespace of the process's
     * own, so both go away with it; the image's env(1) sets the folder and the variables before exec.
     */
    static ProcessBuilder inImage(Image image, List<String> extraEnv, List<String> argv) {
        List<String> cmd = new ArrayList<>(List.of(
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "--mount-proc=" + image.root().resolve("proc"),
                "sh",
                "-c",
                "u=$1; w=$2; shift 2; mount --rbind /dev \"$0/dev\" && exec chroot --userspec=\"$u\" \"$0\" /usr/bin/env -i -C \"$w\" \"$@\"",
                image.root().toString(),
                image.user().isEmpty() ? "0:0" : image.user(),
                image.workdir()));
        cmd.addAll(image.env());
        cmd.addAll(extraEnv);
        cmd.addAll(argv);
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    /** The image's Entrypoint followed by {@code args} (which replace its Cmd). */
    static List<String> entrypoint(Image image, String... args) {
        List<String> argv = new ArrayList<>(image.entrypoint());
        argv.addAll(List.of(args));
        return argv;
    }

    record Ran(int exit, String output) {}

    /** Runs argv in the image to its end (60 s at most). */
    static Ran run(Image image, String name, List<String> extraEnv, List<String> argv) throws Exception {
        Path log = logs().resolve("image-" + name + ".log");
        Process p = inImage(image, extraEnv, argv).redirectOutput(log.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(name + " did not end within 60 s: " + Files.readString(log));
        }
        return new Ran(p.exitValue(), Files.readString(log));
    }

    /** Starts argv in the image and leaves it running until the class ends. */
    Process start(Image image, String name, List<String> extraEnv, List<String> argv) throws IOException {
        Process p = inImage(image, extraEnv, argv)
                .redirectOutput(logs().resolve("image-" + name + ".log").toFile())
                .start();
        running.add(p);
        return p;
    }

    static Path logs() throws IOException {
        return Files.createDirectories(Processes.REPO.resolve("e2e/target/e2e-logs"));
    }

    static void exec(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", command, out).isZero();
    }

    static String get(String url) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofSeconds(5))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url).isEqualTo(200);
        return r.body();
    }
}
