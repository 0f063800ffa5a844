package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.key.InvalidNameException;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.UploadQueue;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.DeletionPolicy;
import io.mithril.api.v1alpha1.RemoteSpec;
import io.mithril.api.v1alpha1.Sizes;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code mithril-agent serve --kubernetes}: the agent on one node of a cluster. It reads its Node's
 * labels once for the device class, watches only the pods bound to its node (a field selector, so
 * a large cluster costs it nothing) and every CompileCache (for budgets and deletion), and drives
 * {@link PodVolumes} from what it sees. Informer callbacks hand work to a small pool, so a slow
 * publish never holds up the watch.
 *
 * <p>API access it needs (and nothing more): get on its own Node; list and watch pods (the field
 * selector narrows what the server sends, RBAC cannot express it); list and watch compilecaches.
 */
public final class KubeAgent implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(KubeAgent.class);
    /** How long pre-warm may take in all. */
    private static final Duration PREWARM_FOR = Duration.ofMinutes(10);
    /** What {@link #close} gives its executors together: serve waits 20 s for the store's clean close on SIGTERM. */
    private static final long CLOSE_SECONDS = 14;

    /**
     * Settings, parsed once. Overrides may be null. {@code kubeletPods}: kubelet's pod folder, for
     * pods injected in EmptyDir mode (null: this agent serves HostPath mode only). {@code nodeFieldSelector}: ask the API server for
     * this node's pods only (always, in a cluster); off only against fabric8's mock API server, which
     * answers a {@code spec.nodeName} field selector with nothing. Pods of other nodes are ignored
     * here either way.
     */
    public record Config(
            String nodeName,
            Path volumes,
            String deviceOverride,
            String productOverride,
            Duration ingestInterval,
            IngestLimits limits,
            boolean nodeFieldSelector,
            Path kubeletPods,
            String cudaDriverOverride) {

        public Config(
                String nodeName,
                Path volumes,
                String deviceOverride,
                String productOverride,
                Duration ingestInterval,
                IngestLimits limits,
                boolean nodeFieldSelector,
                Path kubeletPods) {
            this(
                    nodeName,
                    volumes,
                    deviceOverride,
                    productOverride,
                    ingestInterval,
                    limits,
                    nodeFieldSelector,
                    kubeletPods,
                    null);
        }

        public Config(
                String nodeName,
                Path volumes,
                String deviceOverride,
                String productOverride,
                Duration ingestInterval,
                IngestLimits limits,
                boolean nodeFieldSelector) {
            this(nodeName, volumes, deviceOverride, productOverride, ingestInterval, limits, nodeFieldSelector, null);
        }
    }

    private final KubernetesClient client;
    private final NodeStore store;
    private final AgentMetrics metrics;
    private final Config config;
    /** Where informer callbacks hand their work: publishes, final ingests, removals of a group's entries. */
    private final ExecutorService work;

    private final ScheduledExecutorService periodic = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "mithril-ingest");
        t.setDaemon(true);
        return t;
    });
    /** Orders a CompileCache's re-creation against the removal of its predecessor's entries. */
    private final Object policyLock = new Object();

    private Ingester ingester;
    private PodVolumes volumes;
    private SharedIndexInformer<Pod> pods;
    private SharedIndexInformer<CompileCache> caches;
    /** The remote tier, when the agent has one ({@link #useRemote}), and what pods' starts do with it. */
    private Remote remote;

    private UploadQueue uploadQueue;
    private long prewarmBytes;
    private PodRemote podRemote;
    private final ExecutorService prewarm = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "mithril-remote-prewarm");
        t.setDaemon(true);
        return t;
    });

    /** Remote retention under the cluster's Lease ({@link #useRemoteRetention}); null: this agent runs none. */
    private Retention retention;

    private final ScheduledExecutorService retentionRuns = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "mithril-remote-retention");
        t.setDaemon(true);
        return t;
    });

    /**
     * How this agent takes part in remote retention: a pass tried every {@code every} under the
     * Lease in {@code leaseNamespace} (held for {@code lease} at most), unnamed blobs kept for {@code grace}.
     */
    public record Retention(Duration every, Duration grace, Duration lease, String leaseNamespace) {}

    public KubeAgent(KubernetesClient client, NodeStore store, AgentMetrics metrics, Config config) {
        this(client, store, metrics, config, Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "mithril-pods");
            t.setDaemon(true);
            return t;
        }));
    }

    /** As above, handing pod and CompileCache work to {@code work} (which {@link #close} shuts down). */
    KubeAgent(KubernetesClient client, NodeStore store, AgentMetrics metrics, Config config, ExecutorService work) {
        this.client = client;
        this.store = store;
        this.metrics = metrics;
        this.config = config;
        this.work = work;
    }

    /**
     * Uses the remote tier (before {@link #start}): pods' starts fill from it, what pods that went
     * well produced goes to {@code queue}, and a starting agent pre-warms the groups of CompileCaches
     * that ask for it with up to {@code prewarmBytes} bytes (0: no pre-warm).
     */
    public void useRemote(Remote remote, UploadQueue queue, long prewarmBytes) {
        this.remote = remote;
        this.uploadQueue = queue;
        this.prewarmBytes = prewarmBytes;
    }

    /** Takes part in remote retention (before {@link #start}, with {@link #useRemote}). */
    public void useRemoteRetention(Retention retention) {
        this.retention = retention;
    }

    /** The spec of CompileCache {@code namespace/name}, null when the agent does not know it. */
    private CompileCacheSpec spec(String namespace, String name) {
        CompileCache cc = caches == null ? null : caches.getIndexer().getByKey(namespace + "/" + name);
        return cc == null ? null : cc.getSpec();
    }

    /** Whether the agent knows CompileCache {@code namespace/name} to exist (its informer's view). */
    boolean cacheKnown(String namespace, String name) {
        return caches != null && caches.getIndexer().getByKey(namespace + "/" + name) != null;
    }

    /** Reads the node, recovers views left by an earlier run, then starts watching. */
    public void start() throws IOException {
        if (config.nodeName() == null || config.nodeName().isBlank()) {
            throw new IllegalArgumentException(
                    "--node-name (or NODE_NAME from the downward API) is required with --kubernetes");
        }
        Node node = client.nodes().withName(config.nodeName()).get();
        if (node == null) {
            throw new IllegalStateException("node " + config.nodeName() + " does not exist in the API server");
        }
        NodeIdentity id = NodeIdentity.of(
                node,
                config.deviceOverride(),
                config.productOverride(),
                config.cudaDriverOverride(),
                NodeIdentity.PROC_DRIVER_VERSION);
        log.info(
                "node {}: device class {}, product {}, CUDA driver {}",
                id.node(),
                id.device().text(),
                id.product().slug(),
                id.cudaDriver().version());
        ingester = new Ingester(store, config.limits());
        caches = client.resources(CompileCache.class).inAnyNamespace().runnableInformer(0);
        volumes =
                new PodVolumes(store, ingester, metrics, config.volumes(), config.kubeletPods(), id, this::cacheKnown);
        volumes.reportTo(new PodEvents(client, id.node(), work));
        if (remote != null) {
            podRemote = new PodRemote(remote, store, uploadQueue, metrics, this::spec);
            volumes.remoteTo(podRemote);
            metrics.remote(() -> remote.source().rejectedManifests(), this::queueDepth, remote.stats());
        }
        caches.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(CompileCache cc) {
                policy(cc);
            }

            @Override
            public void onUpdate(CompileCache old, CompileCache cc) {
                policy(cc);
            }

            @Override
            public void onDelete(CompileCache cc, boolean unknownFinalState) {
                deleted(cc);
            }
        });
        caches.run(); // returns once the first list is in the cache
        if (podRemote != null && prewarmBytes > 0) {
            prewarm.execute(this::prewarm);
        }
        if (remote != null && retention != null) {
            RemoteRetention runs = new RemoteRetention(
                    remote.gc(),
                    new RetentionLease(client, retention.leaseNamespace(), id.node(), Clock.systemUTC()),
                    () -> caches.getStore().list(),
                    retention.grace(),
                    retention.lease(),
                    metrics);
            long ms = retention.every().toMillis();
            retentionRuns.scheduleWithFixedDelay(runs::pass, ms, ms, TimeUnit.MILLISECONDS);
        }

        volumes.latestFrom(p -> {
            if (pods == null) {
                return p;
            }
            Pod now = pods.getStore()
                    .getByKey(p.getMetadata().getNamespace() + "/"
                            + p.getMetadata().getName());
            return now == null
                            || !p.getMetadata()
                                    .getUid()
                                    .equals(now.getMetadata().getUid())
                    ? null
                    : now;
        });
        var onNode = config.nodeFieldSelector()
                ? client.pods().inAnyNamespace().withField("spec.nodeName", id.node())
                : client.pods().inAnyNamespace();
        volumes.recover(onNode.list().getItems());
        pods = onNode.inform(
                new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(Pod p) {
                        work.execute(() -> volumes.observe(p));
                    }

                    @Override
                    public void onUpdate(Pod old, Pod p) {
                        work.execute(() -> volumes.observe(p));
                    }

                    @Override
                    public void onDelete(Pod p, boolean unknownFinalState) {
                        String uid = p.getMetadata().getUid();
                        work.execute(() -> volumes.gone(uid));
                    }
                },
                0);
        long every = config.ingestInterval().toMillis();
        periodic.scheduleWithFixedDelay(
                () -> {
                    try {
                        sweep();
                        volumes.ingestAll();
                    } catch (RuntimeException e) {
                        log.warn("periodic ingest failed: {}", e.toString());
                    }
                },
                every,
                every,
                TimeUnit.MILLISECONDS);
    }

    /**
     * Pre-warm: the groups of this node's device class and product of every CompileCache with
     * {@code spec.remote.prewarm}, one after the other, under {@link #prewarmBytes} in all.
     */
    private void prewarm() {
        AtomicLong budget = new AtomicLong(prewarmBytes);
        long until = System.nanoTime() + PREWARM_FOR.toNanos();
        for (CompileCache cc : caches.getStore().list()) {
            if (!RemoteSpec.prewarm(cc.getSpec())) {
                continue;
            }
            GroupId g = group(cc);
            if (g == null) {
                continue;
            }
            try {
                Filler.Report r = podRemote.prewarm(g, budget, until);
                if (r != null) {
                    log.info(
                            "pre-warmed {}: {} entries ({} bytes) from the remote; {} already here",
                            g.text(),
                            r.committed(),
                            r.bytesFetched(),
                            r.present());
                }
            } catch (ExecutionException e) {
                log.warn("pre-warm of {} failed: {}", g.text(), e.getCause().toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (budget.get() <= 0 || System.nanoTime() - until >= 0) {
                break;
            }
        }
    }

    private long queueDepth() {
        try {
            return uploadQueue.snapshot().size();
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Finishes the views of pods the API server no longer has: a pod deleted between recovery's list
     * and the watch's first list sends no delete event, and a watch can miss one.
     */
    void sweep() {
        if (pods == null || !pods.hasSynced()) {
            return;
        }
        Set<String> live = volumes.livePods(); // first: a view published after this is of a pod the store has
        Set<String> known = new HashSet<>();
        for (Pod p : pods.getStore().list()) {
            known.add(p.getMetadata().getUid());
        }
        for (String uid : live) {
            if (!known.contains(uid)) {
                work.execute(() -> volumes.gone(uid));
            }
        }
    }

    /** Both watches have their first full list. */
    public boolean synced() {
        return pods != null && caches != null && pods.hasSynced() && caches.hasSynced();
    }

    public PodVolumes volumes() {
        return volumes;
    }

    private GroupId group(CompileCache cc) {
        try {
            return volumes.node()
                    .group(cc.getMetadata().getNamespace(), cc.getMetadata().getName());
        } catch (InvalidNameException e) {
            return null; // not a name the API server would accept; nothing of it can be here
        }
    }

    private void policy(CompileCache cc) {
        GroupId g = group(cc);
        if (g == null) {
            return;
        }
        synchronized (policyLock) {
            volumes.undrop(g);
        }
        Long budget = null;
        try {
            budget = Sizes.budgetOf(cc.getSpec()); // none in the spec: the CRD's default, as the operator reports
        } catch (IllegalArgumentException e) {
            log.warn(
                    "CompileCache {}/{}: {}; no budget of its own applied (the operator reports it as InvalidSpec)",
                    cc.getMetadata().getNamespace(),
                    cc.getMetadata().getName(),
                    e.getMessage());
        }
        store.setGroupBudget(g, budget);
    }

    private void deleted(CompileCache cc) {
        GroupId g = group(cc);
        if (g == null) {
            return;
        }
        store.setGroupBudget(g, null);
        boolean delete = cc.getSpec() != null && cc.getSpec().getDeletionPolicy() == DeletionPolicy.Delete;
        if (delete) {
            String key =
                    cc.getMetadata().getNamespace() + "/" + cc.getMetadata().getName();
            work.execute(() -> {
                try {
                    synchronized (policyLock) {
                        if (caches.getIndexer().getByKey(key) != null) {
                            return; // created again meanwhile: the new cache keeps its group
                        }
                        volumes.dropGroup(g);
                    }
                } catch (IOException | RuntimeException e) {
                    log.warn("could not remove the entries of {}: {}", g.text(), e.toString());
                }
            });
        } // Retain: the entries stay and age out by LRU; a CompileCache of the same name finds them again
    }

    @Override
    public void close() {
        if (pods != null) {
            pods.close();
        }
        if (caches != null) {
            caches.close();
        }
        // a pass under way ends on its own if it can, within one deadline for all the executors
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_SECONDS);
        Drain.executor(periodic, deadline);
        prewarm.shutdownNow();
        retentionRuns.shutdownNow();
        if (podRemote != null) {
            podRemote.close();
        }
        Drain.executor(work, deadline);
        if (volumes != null) {
            volumes.close(deadline);
        }
        if (ingester != null) {
            ingester.close();
        }
    }
}
