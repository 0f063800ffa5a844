package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.serve.AgentServer;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import io.mithril.agent.volume.Views;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.DeletionPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent in Kubernetes mode against fabric8's mock API server (CRUD mode) and real folders: the
 * mock stands in for the API server, the test for kubelet and the workload (it writes what a
 * compiler would into the view folder the pod's subPathExpr mount resolves to).
 */
@EnableKubernetesMockClient(crud = true)
class KubeAgentIT {

    static KubernetesMockServer server;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    NodeStore store;
    KubeAgent agent;
    AgentMetrics metrics;
    /** The agent's pool for pod and CompileCache work: the tests can keep it busy and see it idle. */
    ThreadPoolExecutor work;

    final String ns = "team-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void setUp() throws Exception {
        client.nodes()
                .resource(new NodeBuilder()
                        .withNewMetadata()
                        .withName("gpu-1")
                        .withLabels(Map.of(
                                NodeIdentity.LABEL_MAJOR,
                                "9",
                                NodeIdentity.LABEL_MINOR,
                                "0",
                                NodeIdentity.LABEL_PRODUCT,
                                "NVIDIA-H100-80GB-HBM3"))
                        .endMetadata()
                        .build())
                .createOr(r -> r.update());
        createCache(DeletionPolicy.Retain);
        store = NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
        startAgent();
    }

    void startAgent() throws Exception {
        metrics = new AgentMetrics();
        work = new ThreadPoolExecutor(4, 4, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>());
        agent = new KubeAgent(
                client,
                store,
                metrics,
                new KubeAgent.Config(
                        "gpu-1",
                        tmp.resolve("volumes"),
                        null,
                        null,
                        Duration.ofMillis(200),
                        IngestLimits.defaults(),
                        false),
                work); // the mock has no spec.nodeName field selector
        agent.start();
        await().atMost(Duration.ofSeconds(20)).until(agent::synced);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (agent != null) {
            agent.close();
        }
        store.close();
        client.pods().inAnyNamespace().delete(); // the mock API server lives for the whole class
        client.resources(CompileCache.class).inAnyNamespace().delete();
    }

    /**
     * Waits until the agent has finished the pod: its view goes first, then the counts are recorded
     * and, last, its record under {@code store/pods} is removed.
     */
    void awaitFinished(Pod p) {
        Path record = tmp.resolve("store/pods").resolve(p.getMetadata().getUid());
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(p)) && !Files.exists(record));
    }

    /** Nothing queued or running on the agent's pool. */
    boolean idle() {
        return work.getQueue().isEmpty() && work.getActiveCount() == 0;
    }

    /** Ingest passes the agent has finished, as its metrics count them. */
    long ingestPasses() throws Exception {
        String prefix = "mithril_ingest_duration_seconds_count ";
        return metrics.render(store.stats())
                .lines()
                .filter(l -> l.startsWith(prefix))
                .mapToLong(l -> Long.parseLong(l.substring(prefix.length()).trim()))
                .findFirst()
                .orElse(0);
    }

    Pod pod(String name, String node) {
        return pod(name, node, "gpt");
    }

    Pod pod(String name, String node, String cache) {
        return create(podSpec(name, node, cache, 1000L, false));
    }

    /** An injected pod as the webhook leaves it; {@code waitEnded}: its wait step already gave up (it runs cold). */
    Pod podSpec(String name, String node, String cache, Long runAsUser, boolean waitEnded) {
        return podSpec(name, node, cache, runAsUser, waitEnded, "Inductor,Triton");
    }

    /** As above, with the frameworks the webhook injected (the CRD's names). */
    Pod podSpec(String name, String node, String cache, Long runAsUser, boolean waitEnded, String frameworks) {
        PodBuilder b = new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(ns)
                .withUid(UUID.randomUUID().toString())
                .withAnnotations(Map.of(
                        "mithril.io/cache",
                        "enabled",
                        "mithril.io/injected",
                        cache,
                        "mithril.io/injected-frameworks",
                        frameworks,
                        "mithril.io/injected-containers",
                        "train"))
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .addNewContainer()
                .withName("train")
                .withImage("pytorch")
                .withNewSecurityContext()
                .withRunAsUser(runAsUser)
                .endSecurityContext()
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPhase(waitEnded ? "Running" : "Pending")
                .endStatus();
        if (waitEnded) {
            b.editStatus()
                    .addToInitContainerStatuses(new ContainerStatusBuilder()
                            .withName("mithril-wait")
                            .withNewState()
                            .withNewTerminated()
                            .withExitCode(0)
                            .endTerminated()
                            .endState()
                            .build())
                    .endStatus();
        }
        return b.build();
    }

    /** The API server stores it and gives it its UID. */
    Pod create(Pod p) {
        return client.pods().inNamespace(ns).resource(p).create();
    }

    void createCache(DeletionPolicy policy) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setBudget("64Mi");
        spec.setDeletionPolicy(policy);
        cc.setSpec(spec);
        client.resource(cc).create();
    }

    Path view(Pod p) {
        return tmp.resolve("volumes").resolve(p.getMetadata().getUid());
    }

    GroupId group() {
        return agent.volumes().node().group(ns, "gpt");
    }

    StoreStats.Group groupStats() throws Exception {
        return store.stats().groups().stream()
                .filter(g -> g.group().equals(group()))
                .findFirst()
                .orElse(null);
    }

    /**
     * What a compiler writes: one generated Inductor module, owned by the pod's user as the pod's own
     * files are (the view's folder was handed to that user at publish).
     */
    static void compileInto(Path view, String name, String code) throws Exception {
        writeAsPod(view, "inductor/ab/" + name, code);
    }

    /** A file the pod's user writes at {@code rel} in its view (temp name, then rename). */
    static void writeAsPod(Path view, String rel, String content) throws Exception {
        Path target = view.resolve(rel);
        Files.createDirectories(target.getParent());
        Path tmpFile = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmpFile, content);
        Files.setAttribute(tmpFile, "unix:uid", Files.getAttribute(view, "unix:uid"));
        Files.move(tmpFile, target);
    }

    /**
     * Waits until the filesystem stamps times later than {@code file}'s mtime, so that a read of it now
     * leaves an atime above its mtime: the use probe counts a read only then, and a copy made at
     * publish has an mtime of just now.
     */
    void awaitClockPast(Path file) throws Exception {
        long mtime = Files.getLastModifiedTime(file).toMillis();
        Path probe = tmp.resolve("clock-probe");
        await().atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(10))
                .until(() -> {
                    Files.writeString(probe, "");
                    return Files.getLastModifiedTime(probe).toMillis() > mtime;
                });
    }

    /**
     * Two vLLM pods of different models on one node, both running at once, each writing its AOT
     * artifact as vLLM does ({@code vllm/compilation/decorators.py}:
     * {@code torch_compile_cache/torch_aot_compile/<sha256>/rank_<r>_<dp>/model}): neither replaces the other's.
     */
    @Test
    void twoVllmPodsOfDifferentModels_onOneNode_keepEachOthersArtifacts() throws Exception {
        String aot = "vllm/torch_compile_cache/torch_aot_compile/";
        Pod llama = create(podSpec("llama", "gpu-1", "gpt", 1000L, false, "VLLM"));
        Pod qwen = create(podSpec("qwen", "gpu-1", "gpt", 1000L, false, "VLLM"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(llama)) && Views.isReady(view(qwen)));
        writeAsPod(view(llama), aot + "a".repeat(64) + "/rank_0_0/model", "llama graph");
        writeAsPod(view(qwen), aot + "b".repeat(64) + "/rank_0_0/model", "qwen graph");
        client.pods().inNamespace(ns).withName("llama").delete();
        client.pods().inNamespace(ns).withName("qwen").delete();
        await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(view(llama)) && !Files.exists(view(qwen)));
        Pod next = create(podSpec("next", "gpu-1", "gpt", 1000L, false, "VLLM"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(next)));
        assertThat(Files.readString(view(next).resolve(aot + "a".repeat(64) + "/rank_0_0/model")))
                .isEqualTo("llama graph");
        assertThat(Files.readString(view(next).resolve(aot + "b".repeat(64) + "/rank_0_0/model")))
                .isEqualTo("qwen graph");
        assertThat(groupStats().entries()).isEqualTo(2);
    }

    /**
     * The CUDA driver's JIT cache in Kubernetes: the webhook points {@code CUDA_CACHE_PATH} at
     * {@code cuda/current}, the agent links it to the node's driver folder (the version from GPU feature
     * discovery's label), and what a pod writes through it is served only on a node with that driver.
     */
    @Test
    void cudaJitEntries_madeUnderOneDriver_areServedOnlyUnderThatDriver() throws Exception {
        setDriverLabel("550.54.15");
        Pod first = create(podSpec("first", "gpu-1", "gpt", 1000L, false, "CudaJIT"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(first)));
        assertThat(Files.readSymbolicLink(view(first).resolve("cuda/current"))).isEqualTo(Path.of("driver-550.54.15"));
        writeAsPod(view(first), "cuda/current/ab/kernel-1", "sass for 550");
        client.pods().inNamespace(ns).withName("first").delete();
        awaitFinished(first);
        assertThat(store.entries(group()).stream().map(e -> e.key().name()))
                .containsExactly("cuda/driver-550.54.15/ab/kernel-1");

        setDriverLabel("560.28.03"); // the node's driver upgraded: the agent restarts with it
        Pod upgraded = create(podSpec("upgraded", "gpu-1", "gpt", 1000L, false, "CudaJIT"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(upgraded)));
        assertThat(view(upgraded).resolve("cuda/current/ab/kernel-1")).doesNotExist();
        assertThat(view(upgraded).resolve("cuda/driver-550.54.15")).doesNotExist();
        assertThat(view(upgraded).resolve("cuda/current")).isDirectory().isEmptyDirectory();

        setDriverLabel("550.54.15");
        Pod back = create(podSpec("back", "gpu-1", "gpt", 1000L, false, "CudaJIT"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(back)));
        assertThat(Files.readString(view(back).resolve("cuda/current/ab/kernel-1")))
                .isEqualTo("sass for 550");
    }

    /** Sets the node's driver label and restarts the agent, which reads the node once at start. */
    void setDriverLabel(String version) throws Exception {
        client.nodes().withName("gpu-1").edit(n -> {
            n.getMetadata().getLabels().put(CudaDriver.LABEL_FULL, version);
            return n;
        });
        agent.close();
        startAgent();
        assertThat(agent.volumes().node().cudaDriver().version()).isEqualTo(version);
    }

    @Test
    void podBoundHere_getsItsViewAndMarker_podBoundElsewhere_doesNot() throws Exception {
        Pod here = pod("here", "gpu-1");
        Pod there = pod("there", "gpu-2");
        Pod forged = pod("forged", "gpu-1", "no-such-cache"); // annotations set by hand, no CompileCache
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(here)));
        assertThat(view(here).resolve("inductor")).isDirectory();
        assertThat(Files.getAttribute(view(here).resolve("inductor"), "unix:uid"))
                .isEqualTo(1000);
        await().during(Duration.ofMillis(500))
                .atMost(Duration.ofSeconds(5))
                .until(() -> idle() && !Files.exists(view(there)) && !Files.exists(view(forged)));
        assertThat(agent.volumes().livePods())
                .containsExactly(here.getMetadata().getUid());
        assertThat(agent.volumes().node().device().text()).isEqualTo("cuda-9.0");
        assertThat(groupStats() == null ? null : groupStats().budget()).isNull(); // no entries yet: no group row
        assertThat(store.config()).isNotNull();
    }

    @Test
    void deletedPod_isIngested_thenItsViewRemoved_andTheNextPodReadsIt() throws Exception {
        Pod first = pod("first", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(first)));
        compileInto(view(first), "cabc.py", "def kernel(): return 42\n");
        client.pods().inNamespace(ns).withName("first").delete();
        awaitFinished(first);
        assertThat(groupStats().entries()).isEqualTo(1);
        assertThat(groupStats().budget()).isEqualTo(64L << 20); // from the CompileCache's spec.budget
        CompileCache cc = client.resources(CompileCache.class)
                .inNamespace(ns)
                .withName("gpt")
                .get();
        cc.getSpec().setBudget("1.5Mi"); // a fraction of a unit: 1572864 bytes, not "no budget"
        client.resource(cc).update();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> Long.valueOf(1572864L).equals(groupStats().budget()));
        cc = client.resources(CompileCache.class)
                .inNamespace(ns)
                .withName("gpt")
                .get();
        cc.getSpec().setBudget(null); // no budget (a CompileCache the API server did not default): the default, as the
        // operator reports it
        client.resource(cc).update();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> Long.valueOf(20L << 30).equals(groupStats().budget()));
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);

        Pod second = pod("second", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(second)));
        assertThat(Files.readString(view(second).resolve("inductor/ab/cabc.py")))
                .contains("return 42");
        Files.readAllBytes(view(second).resolve("inductor/ab/cabc.py")); // the workload reads it: a hit
        client.pods().inNamespace(ns).withName("second").editStatus(p -> {
            p.getStatus().setPhase("Succeeded");
            return p;
        });
        awaitFinished(second);
        assertThat(metrics.groupCounts(group()).hits()).isEqualTo(1);
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);
    }

    /** Why did I miss, in a cluster: an Event on each pod when its view ends, and runs by outcome in /v1/stats. */
    @Test
    void finishedPods_getAnEventSayingWhetherTheyWereWarm_andTheGroupCountsRunsByOutcome() throws Exception {
        Pod cold = pod("cold", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(cold)));
        compileInto(view(cold), "cabc.py", "def kernel(): return 42\n");
        client.pods().inNamespace(ns).withName("cold").delete();
        awaitFinished(cold);
        Pod warm = pod("warm", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(warm)));
        Files.readAllBytes(view(warm).resolve("inductor/ab/cabc.py"));
        client.pods().inNamespace(ns).withName("warm").delete();
        awaitFinished(warm);
        Pod late = create(podSpec("late", "gpu-1", "gpt", 1000L, true)); // its wait step gave up before the agent came
        await().atMost(Duration.ofSeconds(20))
                .until(() -> metrics.groupCounts(group()).runs().size() == 3);

        Map<String, Event> byPod = new HashMap<>();
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            client.v1()
                    .events()
                    .inNamespace(ns)
                    .list()
                    .getItems()
                    .forEach(e -> byPod.put(e.getInvolvedObject().getName(), e));
            return byPod.size() == 3;
        });
        assertThat(byPod.get("cold").getReason()).isEqualTo("MithrilNothingPublished");
        assertThat(byPod.get("cold").getType()).isEqualTo("Normal");
        assertThat(byPod.get("cold").getMessage())
                .contains("is empty on this node")
                .contains("compiled 1 entries");
        assertThat(byPod.get("cold").getInvolvedObject().getUid())
                .isEqualTo(cold.getMetadata().getUid());
        assertThat(byPod.get("warm").getReason()).isEqualTo("MithrilWarm");
        assertThat(byPod.get("warm").getMessage()).isEqualTo("warm: read 1 of 1 published entries, compiled nothing");
        assertThat(byPod.get("late").getReason()).isEqualTo("MithrilNoView");
        assertThat(byPod.get("late").getType()).isEqualTo("Warning");
        assertThat(byPod.get("late").getMessage()).contains("wait step gave up");
        assertThat(metrics.groupCounts(group()).runs())
                .containsEntry(Outcome.WARM, 1L)
                .containsEntry(Outcome.NOTHING_PUBLISHED, 1L)
                .containsEntry(Outcome.NO_VIEW, 1L);
        assertThat(AgentServer.statsJson(store.stats(), metrics))
                .contains("\"runs\":{\"noView\":1,\"nothingPublished\":1,\"warm\":1}");

        agent.close(); // counted across a restart (the activity file)
        startAgent();
        assertThat(metrics.groupCounts(group()).runs())
                .containsEntry(Outcome.WARM, 1L)
                .containsEntry(Outcome.NO_VIEW, 1L);
    }

    @Test
    void agentRestartedInTheMiddle_adoptsLiveViews_finishesGoneOnes_publishesNewOnes() throws Exception {
        Pod stays = pod("stays", "gpu-1");
        Pod goes = pod("goes", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(stays)) && Views.isReady(view(goes)));
        compileInto(view(goes), "cgone.py", "x = 'compiled by the pod that ended'\n");
        agent.close(); // the agent stops (or crashes) here; kubelet goes on
        agent = null;
        client.pods().inNamespace(ns).withName("goes").delete();
        Pod arrives = pod("arrives", "gpu-1");
        compileInto(view(stays), "cstay.py", "x = 'compiled while the agent was away'\n");

        startAgent();
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(arrives)));
        assertThat(view(goes)).doesNotExist();
        assertThat(store.entries(group())).anyMatch(e -> e.key().name().equals("inductor/ab/cgone.py"));
        assertThat(agent.volumes().livePods())
                .contains(stays.getMetadata().getUid(), arrives.getMetadata().getUid());
        await().atMost(Duration.ofSeconds(20))
                .until(() -> store.entries(group()).stream()
                        .anyMatch(e ->
                                e.key().name().equals("inductor/ab/cstay.py"))); // periodic ingest of the adopted view
        client.pods().inNamespace(ns).withName("stays").delete();
        awaitFinished(stays);
        assertThat(metrics.groupCounts(group()).misses())
                .as("counts survive the restart")
                .isEqualTo(2);
        agent.close();
        startAgent(); // a second restart with nothing in flight: the counts are read back, not lost
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(2);
    }

    @Test
    void compileCacheDeleted_withDelete_dropsItsEntries_withRetain_keepsThem() throws Exception {
        Pod p = pod("p", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(p)));
        compileInto(view(p), "ckeep.py", "y = 1\n");
        client.pods().inNamespace(ns).withName("p").delete();
        awaitFinished(p);
        assertThat(store.entries(group())).hasSize(1);

        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete(); // default policy: Retain
        await().atMost(Duration.ofSeconds(20)).until(() -> !agent.cacheKnown(ns, "gpt") && idle());
        assertThat(store.entries(group())).hasSize(1);

        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setDeletionPolicy(DeletionPolicy.Delete);
        spec.setBudget("32Mi");
        cc.setSpec(spec);
        client.resource(cc).create();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> groupStats() != null
                        && Long.valueOf(32L << 20).equals(groupStats().budget()));
        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> store.entries(group()).isEmpty());
    }

    /**
     * A CompileCache deleted with deletionPolicy Delete and created again while the agent's pool is
     * busy (publishes, final ingests): the queued removal of the old one's entries must not leave the
     * new one without ingest. (Found by a review.)
     */
    @Test
    void compileCacheDeletedWithDelete_thenRecreated_whilePoolBusy_newCacheStillIngests() throws Exception {
        CompileCache old = client.resources(CompileCache.class)
                .inNamespace(ns)
                .withName("gpt")
                .get();
        old.getSpec().setDeletionPolicy(DeletionPolicy.Delete);
        client.resource(old).update();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> agent.cacheKnown(ns, "gpt")
                        && DeletionPolicy.Delete.equals(client.resources(CompileCache.class)
                                .inNamespace(ns)
                                .withName("gpt")
                                .get()
                                .getSpec()
                                .getDeletionPolicy()));
        CountDownLatch release = new CountDownLatch(1);
        for (int i = 0; i < 4; i++) { // stands in for four slow publishes / final ingests
            work.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        client.resources(CompileCache.class).inNamespace(ns).withName("gpt").delete();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> !agent.cacheKnown(ns, "gpt") && work.getQueue().size() > 0);
        createCache(DeletionPolicy.Retain); // `kubectl delete` then `kubectl apply` of the same name
        await().atMost(Duration.ofSeconds(20)).until(() -> agent.cacheKnown(ns, "gpt"));
        release.countDown();
        await().atMost(Duration.ofSeconds(20)).until(this::idle); // the queued removal ran (and found the new cache)

        Pod p = create(podSpec("after", "gpu-1", "gpt", 1000L, false));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(p)));
        compileInto(view(p), "cnew.py", "x = 'compiled for the new CompileCache'\n");
        client.pods().inNamespace(ns).withName("after").delete();
        awaitFinished(p);
        assertThat(store.entries(group()))
                .as("the re-created CompileCache's pod output is ingested")
                .anyMatch(e -> e.key().name().equals("inductor/ab/cnew.py"));
    }

    /**
     * A pod whose wait step already ended when the agent first sees it (it ran cold) never gets a
     * view; the folder kubelet made for its subPathExpr mount still goes when the pod does. (Found by a review.)
     */
    @Test
    void coldPod_folderIsRemovedWhenThePodGoes() throws Exception {
        Pod p = create(podSpec("cold", "gpu-1", "gpt", 1000L, true)); // the API server gives it its UID
        Files.createDirectories(view(p)); // kubelet's subPathExpr folder (root 0755)
        Path coldMarker = tmp.resolve("store/pods.cold").resolve(p.getMetadata().getUid());
        await().atMost(Duration.ofSeconds(20))
                .until(() -> Files.exists(coldMarker)); // counted as started without a view
        assertThat(agent.volumes().livePods()).doesNotContain(p.getMetadata().getUid());
        client.pods().inNamespace(ns).withName("cold").delete();
        await("the view folder of a pod that is gone")
                .atMost(Duration.ofSeconds(20))
                .until(() -> !Files.exists(view(p)));
    }

    /**
     * A COPY view (root pods, pods whose user the spec does not name) adopted after a restart keeps
     * its published copies as published: they are not re-ingested as misses, and reads of them stay
     * hits. (Found by a review.)
     */
    @Test
    void copyView_adoptedAfterRestart_keepsHitsAndDoesNotCountPublishedFilesAsMisses() throws Exception {
        Pod first = create(podSpec("first", "gpu-1", "gpt", 1000L, false));
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(first)));
        compileInto(view(first), "cabc.py", "def kernel(): return 42\n");
        client.pods().inNamespace(ns).withName("first").delete();
        awaitFinished(first);
        assertThat(metrics.groupCounts(group()).misses()).isEqualTo(1);

        Pod second = create(podSpec("second", "gpu-1", "gpt", null, false)); // image's USER: a COPY view
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(second)));
        awaitClockPast(view(second).resolve("inductor/ab/cabc.py")); // the copy was made just now
        Files.readAllBytes(view(second).resolve("inductor/ab/cabc.py")); // a hit
        agent.close();
        agent = null;
        startAgent();
        long passes = ingestPasses();
        await().atMost(Duration.ofSeconds(20))
                .until(() -> ingestPasses() >= passes + 2); // periodic passes over the adopted view
        client.pods().inNamespace(ns).withName("second").delete();
        awaitFinished(second);
        assertThat(metrics.groupCounts(group()).misses())
                .as("misses: only the first pod compiled")
                .isEqualTo(1);
        assertThat(metrics.groupCounts(group()).hits())
                .as("hits: the second pod read the entry")
                .isEqualTo(1);
    }

    /**
     * The agent stopped (rolling update, OOM) after the record and the framework folders were
     * written but before the marker; the pod is still in its wait step when the agent is back, and
     * gets its view. (Found by a review.)
     */
    @Test
    void agentRestartMidPublish_podStillWaiting_getsItsView() throws Exception {
        agent.close();
        agent = null;
        Pod p = create(podSpec("mid", "gpu-1", "gpt", 1000L, false));
        Path view = tmp.resolve("volumes").resolve(p.getMetadata().getUid());
        // what the killed agent left: its record, the view folder with the framework folders, no marker
        Path rec = Files.createDirectories(tmp.resolve("store/pods"))
                .resolve(p.getMetadata().getUid());
        Files.writeString(
                rec,
                NodeIdentity.of(client.nodes().withName("gpu-1").get(), null, null)
                                .group(ns, "gpt")
                                .text() + "\ninductor,triton\nLINK\n" + view + "\nfalse\n");
        Files.createDirectories(view.resolve("inductor"));
        Files.createDirectories(view.resolve("triton"));
        startAgent();
        await("a pod still in its wait step gets its view after an agent restart mid-publish")
                .atMost(Duration.ofSeconds(20))
                .until(() -> Views.isReady(view));
    }

    @Test
    void hostilePodBesideAWellBehavedOne_theWellBehavedOnesIngestAndPublishGoOn() throws Exception {
        Pod evil = pod("evil", "gpu-1");
        Pod good = pod("good", "gpu-1");
        await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(evil)) && Views.isReady(view(good)));
        Path ab = Files.createDirectories(view(evil).resolve("inductor/ab"));
        Path fifo = ab.resolve("cfifo.py");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor())
                .isZero();
        Path secret = Files.writeString(tmp.resolve("secret.txt"), "not the pod's " + UUID.randomUUID());
        Files.createLink(ab.resolve("clinked.py"), secret); // a hard link to a file from elsewhere on the node's disk
        Process holder =
                new ProcessBuilder("sh", "-c", "exec 3<>'" + fifo + "'; sleep 60").start(); // holds the write end
        // ten files under write leases: a blocking open of each waits up to 45 s (lease-break-time)
        List<String> leaseCmd = new ArrayList<>(
                List.of(
                        "python3",
                        "-c",
                        "import fcntl,os,sys,time\nfds=[os.open(f, os.O_RDWR) for f in sys.argv[1:]]\n"
                                + "[fcntl.fcntl(fd, 1024, fcntl.F_WRLCK) for fd in fds]\nprint('held', flush=True)\ntime.sleep(60)\n"));
        for (int i = 0; i < 10; i++) {
            leaseCmd.add(Files.writeString(ab.resolve("cleased" + i + ".py"), "x = " + i + "\n")
                    .toString());
        }
        Process leases = new ProcessBuilder(leaseCmd).redirectErrorStream(true).start();
        try {
            assertThat(new String(leases.getInputStream().readNBytes(5))).isEqualTo("held\n");
            long passes =
                    ingestPasses(); // periodic passes meet the FIFO and the leases: a blocking open there would stop
            // them all
            await().atMost(Duration.ofSeconds(20)).until(() -> ingestPasses() >= passes + 4);
            compileInto(view(good), "cgood.py", "def good(): return 1\n");
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> store.entries(group()).stream()
                            .anyMatch(e -> e.key().name().equals("inductor/ab/cgood.py")));
            Pod late = pod("late", "gpu-1");
            await().atMost(Duration.ofSeconds(20)).until(() -> Views.isReady(view(late)));
            assertThat(view(late).resolve("inductor/ab/cgood.py")).exists();
            assertThat(store.entries(group()))
                    .noneMatch(e ->
                            e.key().name().contains("clinked") || e.key().name().contains("cfifo"));
        } finally {
            holder.destroyForcibly();
            leases.destroyForcibly();
        }
    }
}
