package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.mithril.agent.S3ProxyServer;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.remote.UploadQueue;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.serve.AgentServer;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.RemoteSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The remote tier on the pod path ({@link PodVolumes} with a {@link PodRemote}) against a real
 * S3-compatible server: only pods that were Ready or Succeeded, and never crashed, have what they
 * produced queued; a fresh node's pod is published with the entries fetched from the bucket; two
 * pods of one group starting at once on a node fetch once; pre-warm fills under its byte budget.
 */
class PodRemoteIT {

    static final byte[] KEY = "mithril-test-manifest-key-0123456789".getBytes(StandardCharsets.UTF_8);
    static S3ProxyServer server;
    /** The pods run as this process's user: their files are the workload's. */
    static long UID;

    @TempDir
    Path tmp;

    final List<AutoCloseable> open = new ArrayList<>();
    final CompileCacheSpec spec = new CompileCacheSpec();

    /** One node: its store, PodVolumes wired to the remote, and what the test looks at. */
    record Node(
            NodeStore store,
            PodVolumes volumes,
            PodRemote remote,
            Remote bucket,
            UploadQueue queue,
            AgentMetrics metrics) {
        GroupId group() throws Exception {
            return volumes.node().group("team-a", "gpt");
        }
    }

    @BeforeAll
    static void startServer() throws Exception {
        UID = ((Number) Files.getAttribute(Path.of(System.getProperty("java.io.tmpdir")), "unix:uid")).longValue();
        server = S3ProxyServer.start(Files.createTempDirectory("s3proxy-"), "mithril");
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    Node node(String name, String prefix) throws Exception {
        NodeStore store =
                NodeStore.open(Files.createDirectories(tmp.resolve(name).resolve("store")), StoreConfig.defaults());
        open.add(store);
        Ingester ingester = new Ingester(store, IngestLimits.defaults());
        open.add(ingester);
        Remote bucket = Remote.open(RemoteConfig.of("s3://" + server.bucket() + "/" + prefix, server.endpoint(), KEY)
                .withRegion(S3ProxyServer.REGION)
                .withCredentials(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY)))
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(10), 2));
        open.add(bucket);
        UploadQueue queue = new UploadQueue(store.root());
        AgentMetrics metrics = new AgentMetrics();
        NodeIdentity id =
                new NodeIdentity(name, new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
        Files.createDirectories(tmp.resolve(name).resolve("kubelet"));
        PodVolumes volumes = new PodVolumes(
                store,
                ingester,
                metrics,
                tmp.resolve(name).resolve("volumes"),
                tmp.resolve(name).resolve("kubelet"),
                id,
                (ns, n) -> n.equals("gpt"));
        open.add(volumes);
        PodRemote remote = new PodRemote(bucket, store, queue, metrics, (ns, n) -> n.equals("gpt") ? spec : null);
        open.add(remote);
        volumes.remoteTo(remote);
        return new Node(store, volumes, remote, bucket, queue, metrics);
    }

    /** An injected Inductor pod of CompileCache gpt bound to {@code node}. */
    static Pod pod(String uid, String node, String phase, boolean ready, Integer exitCode) {
        PodBuilder b = new PodBuilder()
                .withNewMetadata()
                .withName("p-" + uid.substring(0, 8))
                .withNamespace("team-a")
                .withUid(uid)
                .withAnnotations(Map.of(
                        "mithril.io/injected",
                        "gpt",
                        "mithril.io/injected-frameworks",
                        "Inductor",
                        "mithril.io/injected-containers",
                        "train"))
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .addNewContainer()
                .withName("train")
                .withImage("pytorch")
                .withNewSecurityContext()
                .withRunAsUser(UID)
                .endSecurityContext()
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPhase(phase)
                .addToConditions(new PodConditionBuilder()
                        .withType("Ready")
                        .withStatus(ready ? "True" : "False")
                        .build())
                .endStatus();
        if (exitCode != null) {
            b.editStatus()
                    .addToContainerStatuses(new ContainerStatusBuilder()
                            .withName("train")
                            .withNewState()
                            .withNewTerminated()
                            .withExitCode(exitCode)
                            .endTerminated()
                            .endState()
                            .build())
                    .endStatus();
        }
        return b.build();
    }

    static void compile(Node n, String uid, String name, String text) throws Exception {
        Path dir = n.volumes().viewDir(uid);
        Path f = dir.resolve("inductor/" + name);
        Files.createDirectories(f.getParent());
        Files.writeString(f, text);
        Files.setLastModifiedTime(
                f, FileTime.from(Instant.now().minusSeconds(120))); // settled: periodic passes take it
    }

    static List<String> names(Node n) throws Exception {
        return n.store().entries(n.group()).stream()
                .map(e -> e.key().name())
                .sorted()
                .toList();
    }

    @Test
    void onlyPodsThatWentWell_areQueued_andAFreshNodesPod_isPublishedWithWhatTheyUploaded() throws Exception {
        Node a = node("gpu-1", "t1");
        String crashed = UUID.randomUUID().toString();
        a.volumes().observe(pod(crashed, "gpu-1", "Pending", false, null));
        compile(a, crashed, "ab/ccrash.py", "print('crashed')\n");
        a.volumes().ingestAll(); // taken (it is not Ready yet: held back), then a container exits 1
        a.volumes().observe(pod(crashed, "gpu-1", "Running", false, 1));
        a.volumes().observe(pod(crashed, "gpu-1", "Running", true, 1)); // restarted, Ready: still a pod that crashed
        a.volumes().ingestAll();
        a.volumes().observe(pod(crashed, "gpu-1", "Failed", false, 1));
        String neverReady = UUID.randomUUID().toString();
        a.volumes().observe(pod(neverReady, "gpu-1", "Pending", false, null));
        compile(a, neverReady, "ab/cdeleted.py", "print('deleted before it was ready')\n");
        a.volumes().ingestAll();
        a.volumes().gone(neverReady);
        assertThat(names(a)).containsExactly("inductor/ab/ccrash.py", "inductor/ab/cdeleted.py");
        assertThat(a.queue().snapshot())
                .as("a crashed pod's and a never-Ready pod's entries never go up")
                .isEmpty();

        String good = UUID.randomUUID().toString();
        a.volumes().observe(pod(good, "gpu-1", "Pending", false, null));
        compile(a, good, "ab/cearly.py", "print('before ready')\n");
        a.volumes().ingestAll(); // taken, not queued yet: the pod was not Ready
        assertThat(a.queue().snapshot()).isEmpty();
        a.volumes().observe(pod(good, "gpu-1", "Running", true, null));
        compile(a, good, "ab/clate.py", "print('after ready')\n");
        a.volumes().ingestAll();
        assertThat(a.queue().snapshot())
                .extracting(k -> k.name())
                .containsExactlyInAnyOrder("inductor/ab/cearly.py", "inductor/ab/clate.py");
        a.volumes().gone(good);
        assertThat(a.bucket().uploader().drain(a.store(), a.queue(), System.nanoTime() + 30_000_000_000L))
                .isEqualTo(2);

        Node b = node("gpu-2", "t1");
        String first = UUID.randomUUID().toString();
        b.volumes().observe(pod(first, "gpu-2", "Pending", false, null));
        assertThat(b.volumes().stateOf(first)).isEqualTo(PodState.LIVE);
        assertThat(Files.readString(b.volumes().viewDir(first).resolve("inductor/ab/clate.py")))
                .isEqualTo("print('after ready')\n");
        assertThat(names(b)).containsExactly("inductor/ab/cearly.py", "inductor/ab/clate.py");
        assertThat(b.metrics().groupCounts(b.group()).remoteFetched()).isEqualTo(2);
        assertThat(AgentServer.statsJson(b.store().stats(), b.metrics())).contains("\"remote\":{\"fetched\":2,");
    }

    @Test
    void aCacheWithRemoteDisabled_neitherFillsNorQueues() throws Exception {
        spec.setRemote(new RemoteSpec());
        spec.getRemote().setEnabled(false);
        Node a = node("gpu-1", "t2");
        String uid = UUID.randomUUID().toString();
        a.volumes().observe(pod(uid, "gpu-1", "Running", true, null));
        compile(a, uid, "ab/cx.py", "x\n");
        a.volumes().observe(pod(uid, "gpu-1", "Succeeded", false, null));
        assertThat(names(a)).containsExactly("inductor/ab/cx.py");
        assertThat(a.queue().snapshot()).isEmpty();
    }

    @Test
    void twoPodsOfOneGroupStartingAtOnce_fetchOnce_andPrewarm_staysWithinItsBudget() throws Exception {
        Node a = node("gpu-1", "t3");
        String uid = UUID.randomUUID().toString();
        a.volumes().observe(pod(uid, "gpu-1", "Running", true, null));
        for (int i = 0; i < 20; i++) {
            compile(a, uid, "ab/c" + i + ".py", String.format("entry %02d%n", i).repeat(200));
        }
        a.volumes().observe(pod(uid, "gpu-1", "Succeeded", false, null));
        assertThat(a.bucket().uploader().drain(a.store(), a.queue(), System.nanoTime() + 30_000_000_000L))
                .isEqualTo(20);

        Node b = node("gpu-2", "t3");
        ExecutorService two = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> starts = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String u = UUID.randomUUID().toString();
                starts.add(two.submit(() -> b.volumes().observe(pod(u, "gpu-2", "Pending", false, null))));
            }
            for (Future<?> f : starts) {
                f.get();
            }
        } finally {
            two.shutdown();
        }
        assertThat(names(b)).hasSize(20);
        assertThat(b.metrics().groupCounts(b.group()).remoteFetched())
                .as("fetched once, not once per pod")
                .isEqualTo(20);
        long oneCopy = a.store().stats().bytes();
        assertThat(b.metrics().groupCounts(b.group()).remoteFetchedBytes()).isEqualTo(oneCopy);

        Node c = node("gpu-3", "t3");
        long entryBytes = oneCopy / 20;
        c.remote().prewarm(c.group(), new AtomicLong(entryBytes * 5), System.nanoTime() + 30_000_000_000L);
        assertThat(names(c)).hasSize(5);
    }
}
