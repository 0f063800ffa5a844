package io.mithril.agent.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.mithril.agent.exec.ExecListener;
import io.mithril.agent.fs.NodeRoot;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.kube.KubeAgent;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.serve.AgentServer;
import io.mithril.agent.store.NodeStore;
import io.mithril.api.v1alpha1.Sizes;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "serve",
        description = "Run the agent: health, readiness, Prometheus metrics and per-group stats over HTTP.")
final class ServeCmd implements Callable<Integer> {

    @CommandLine.ParentCommand
    AgentMain main;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    AgentMain.StoreOptions local = new AgentMain.StoreOptions();

    @Option(
            names = "--listen",
            defaultValue = "${env:MITHRIL_LISTEN:-127.0.0.1:9464}",
            paramLabel = "HOST:PORT",
            description = "Address of the HTTP API; default ${DEFAULT-VALUE}.")
    String listen;

    @Option(
            names = "--kubernetes",
            defaultValue = "${env:MITHRIL_KUBERNETES:-false}",
            description =
                    "Run as the node agent of a cluster: watch this node's pods and publish, ingest and remove their views.")
    boolean kubernetes;

    @Option(
            names = "--node-name",
            defaultValue = "${env:NODE_NAME}",
            paramLabel = "NODE",
            description = "This node's name (the chart sets NODE_NAME from spec.nodeName).")
    String nodeName;

    @Option(
            names = "--volumes",
            defaultValue = "${env:MITHRIL_VOLUMES:-/var/lib/mithril/volumes}",
            paramLabel = "DIR",
            description =
                    "Folder of the pods' views (the hostPath the webhook mounts); same filesystem as --root. Default ${DEFAULT-VALUE}.")
    Path volumes;

    @Option(
            names = "--kubelet-pods",
            defaultValue = "${env:MITHRIL_KUBELET_PODS:-/var/lib/kubelet/pods}",
            paramLabel = "DIR",
            description =
                    "Kubelet's folder of pods, where pods injected in EmptyDir mode have their emptyDir; default ${DEFAULT-VALUE}.")
    Path kubeletPods;

    @Option(
            names = "--device-class",
            defaultValue = "${env:MITHRIL_DEVICE_CLASS}",
            paramLabel = "CLASS",
            description = "Override the device class read from the node's labels (cpu, cuda-any, cuda-M.m).")
    String deviceClass;

    @Option(
            names = "--gpu-product",
            defaultValue = "${env:MITHRIL_GPU_PRODUCT}",
            paramLabel = "NAME",
            description = "Override the GPU product read from the node's nvidia.com/gpu.product label.")
    String gpuProduct;

    @Option(
            names = "--cuda-driver",
            defaultValue = "${env:MITHRIL_CUDA_DRIVER}",
            paramLabel = "VERSION",
            description = {
                "With --kubernetes: the node's CUDA driver version, whose CUDA JIT cache entries pods are served.",
                "Default: the node's nvidia.com/cuda.driver-version.full label (GPU feature discovery), else /proc/driver/nvidia/version."
            })
    String cudaDriver;

    @Option(
            names = "--ingest-interval",
            defaultValue = "${env:MITHRIL_INGEST_INTERVAL:-10s}",
            paramLabel = "DURATION",
            description = "Time between ingest passes over running pods' views; default ${DEFAULT-VALUE}.")
    String ingestInterval;

    @CommandLine.Mixin
    AgentMain.RemoteOptions remote = new AgentMain.RemoteOptions();

    @Option(
            names = "--remote-upload-interval",
            defaultValue = "${env:MITHRIL_REMOTE_UPLOAD_INTERVAL:-30s}",
            paramLabel = "DURATION",
            description = {
                "With --remote: time between uploads of the upload queue (what exec runs on this root left);",
                "the first is at start. Env MITHRIL_REMOTE_UPLOAD_INTERVAL; default ${DEFAULT-VALUE}."
            })
    String uploadInterval;

    @Option(
            names = "--remote-prewarm-bytes",
            defaultValue = "${env:MITHRIL_REMOTE_PREWARM_BYTES:-10Gi}",
            paramLabel = "SIZE",
            description = {
                "With --kubernetes and --remote: how much a starting agent fetches in the background for the",
                "CompileCaches with spec.remote.prewarm (0: none). Env MITHRIL_REMOTE_PREWARM_BYTES; default ${DEFAULT-VALUE}."
            })
    String prewarmBytes;

    @Option(
            names = "--remote-retention-interval",
            defaultValue = "${env:MITHRIL_REMOTE_RETENTION_INTERVAL:-1h}",
            paramLabel = "DURATION|off",
            description = {
                "With --kubernetes and --remote: time between tries at remote retention (each CompileCache's remote entries",
                "within its spec.remote.budget); the agent holding the Lease runs the pass. off: this agent never does.",
                "Env MITHRIL_REMOTE_RETENTION_INTERVAL; default ${DEFAULT-VALUE}."
            })
    String retentionInterval;

    @Option(
            names = "--remote-retention-grace",
            defaultValue = "${env:MITHRIL_REMOTE_RETENTION_GRACE:-1h}",
            paramLabel = "DURATION",
            description =
                    "How long retention keeps blobs no manifest names (an upload may be writing its manifest); default ${DEFAULT-VALUE}.")
    String retentionGrace;

    @Option(
            names = "--remote-retention-lease",
            defaultValue = "${env:MITHRIL_REMOTE_RETENTION_LEASE:-15m}",
            paramLabel = "DURATION",
            description =
                    "How long the retention Lease holds if its agent dies during a pass; default ${DEFAULT-VALUE}.")
    String retentionLease;

    @Option(
            names = "--remote-retention-namespace",
            defaultValue = "${env:POD_NAMESPACE:-}",
            paramLabel = "NAMESPACE",
            description =
                    "Namespace of the retention Lease (coordination.k8s.io); default the agent's own (env POD_NAMESPACE), else the client's.")
    String retentionNamespace;

    @Option(
            names = "--node-field-selector",
            arity = "1",
            paramLabel = "true|false",
            defaultValue = "${env:MITHRIL_NODE_FIELD_SELECTOR:-true}",
            description =
                    "Ask the API server for this node's pods only (spec.nodeName field selector). Turn off only for a test API server without field selectors.")
    boolean nodeFieldSelector;

    @Option(
            names = "--exec-socket",
            arity = "1",
            paramLabel = "true|false",
            defaultValue = "${env:MITHRIL_EXEC_SOCKET:-true}",
            description = {
                "Without --kubernetes: prepare the runs of exec on this root (through <root>/agent), so that exec",
                "starts its command without opening the store itself. Env MITHRIL_EXEC_SOCKET; default ${DEFAULT-VALUE}."
            })
    boolean execSocket;

    @Override
    public Integer call() throws Exception {
        int colon = listen.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--listen wants HOST:PORT, got " + listen);
        }
        InetSocketAddress addr =
                new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1)));
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        // On SIGTERM the hook releases main, then waits (bounded) until the store is closed cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                closed.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        AgentMetrics metrics = new AgentMetrics();
        Duration every = duration(uploadInterval);
        RemoteConfig remoteConfig =
                main.remoteConfigOrNone(remote, spec.commandLine().getErr());
        ScheduledExecutorService uploads = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mithril-remote-uploads");
            t.setDaemon(true);
            return t;
        });
        AgentMain.StoreSpec storeSpec = main.storeSpec(local);
        try (NodeStore store = NodeStore.open(storeSpec.root(), storeSpec.config(true));
                ExecListener execs = kubernetes || !execSocket ? null : listenForExec(store, storeSpec, metrics);
                RemoteRun rr =
                        RemoteRun.open(remoteConfig, store, spec.commandLine().getErr());
                AgentServer server = new AgentServer(store, metrics, addr);
                KubernetesClient client = kubernetes ? new KubernetesClientBuilder().build() : null;
                KubeAgent agent = kubernetes
                        ? new KubeAgent(
                                client,
                                store,
                                metrics,
                                new KubeAgent.Config(
                                        nodeName,
                                        volumes,
                                        deviceClass,
                                        gpuProduct,
                                        duration(ingestInterval),
                                        IngestLimits.defaults(),
                                        nodeFieldSelector,
                                        kubeletPods,
                                        cudaDriver))
                        : null) {
            if (agent != null) {
                server.readiness(agent::synced);
                if (rr != null) {
                    agent.useRemote(
                            rr.remote(), rr.queue(), "0".equals(prewarmBytes.trim()) ? 0 : Sizes.parse(prewarmBytes));
                    if (!"off".equals(retentionInterval.trim())) {
                        agent.useRemoteRetention(new KubeAgent.Retention(
                                duration(retentionInterval),
                                duration(retentionGrace),
                                duration(retentionLease),
                                retentionNamespace.isBlank()
                                        ? Objects.requireNonNullElse(client.getNamespace(), "default")
                                        : retentionNamespace));
                    }
                }
            }
            if (rr != null) {
                rr.countIn(metrics);
            }
            server.start(); // first: liveness must answer while recovery ingests what pods left (readiness waits)
            if (agent != null) {
                agent.start();
            }
            spec.commandLine()
                    .getErr()
                    .println("mithril-agent: serving " + store.root() + " on http://" + listen.substring(0, colon) + ":"
                            + server.port() + (execs != null ? "; exec through " + execs.dir() : ""));
            spec.commandLine().getErr().flush();
            if (rr != null) {
                uploads.scheduleWithFixedDelay(
                        () -> {
                            rr.retry();
                            rr.upload(every.multipliedBy(4));
                        },
                        0,
                        every.toMillis(),
                        TimeUnit.MILLISECONDS);
            }
            stop.await();
            uploads.shutdownNow();
        } finally {
            closed.countDown();
        }
        return 0;
    }

    /**
     * Where {@code exec} asks this agent; null, with a line on standard error, when that cannot be had
     * (another agent serves this root, no libc for named pipes): {@code exec} then runs on its own, as
     * without {@code serve}.
     */
    private ExecListener listenForExec(NodeStore store, AgentMain.StoreSpec storeSpec, AgentMetrics metrics)
            throws IOException {
        Path dir = NodeRoot.agent(store.root());
        try {
            return ExecListener.start(dir, new ResidentExec(store, storeSpec, metrics));
        } catch (IOException | RuntimeException e) {
            spec.commandLine()
                    .getErr()
                    .println("mithril-agent: exec runs without this agent (" + dir + ": " + AgentMain.message(e) + ")");
            return null;
        }
    }

    /** {@code 500ms}, {@code 10s}, {@code 2m}, {@code 1h}. */
    static Duration duration(String text) {
        Matcher m = Pattern.compile("(\\d{1,9})(ms|s|m|h)").matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("a duration like 500ms, 10s, 2m or 1h is wanted, got " + text);
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
        if (d.toMillis() < 100) {
            throw new IllegalArgumentException("an interval of at least 100ms is wanted, got " + text);
        }
        return d;
    }
}
