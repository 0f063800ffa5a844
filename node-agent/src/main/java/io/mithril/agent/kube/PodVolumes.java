package io.mithril.agent.kube;

import io.mithril.agent.diagnosis.Diagnoser;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.key.InvalidNameException;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.volume.FileTrees;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.ViewSession;
import io.mithril.agent.volume.Views;
import io.mithril.api.v1alpha1.Injected;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The per-pod volume lifecycle on one node, driven by what the API server says about the pods bound
 * to it (the NodePublish/NodeUnpublish of this CSI-like design).
 *
 * <p>A pod takes part when the webhook injected it ({@code mithril.io/injected} names its
 * CompileCache) and it is bound to this node. Its view is {@code <volumes>/<pod UID>}, the folder
 * its {@code subPathExpr} mount resolves to. Lifecycle:
 * <ol>
 *   <li><b>publish</b> when the pod is first seen and its wait step has not ended yet (a pod whose
 *       wait step gave up runs cold: publishing then would only pin entries for nothing);</li>
 *   <li><b>ingest</b> every pass of {@link #ingestAll()} while it runs;</li>
 *   <li><b>finish</b> when the pod has ended (phase Succeeded/Failed) or is gone from the API:
 *       a final ingest, the use probe read back, unpin, the folder removed.</li>
 * </ol>
 * Each pod's steps are serialized by a lock of its own; pods proceed in parallel.
 *
 * <p><b>Restart</b>: what a view is (its group, frameworks, publish mode) is recorded before
 * publishing under {@code <store>/pods/<uid>}, outside the pod's reach (the pod can write its whole
 * view). {@link #recover} adopts the views of pods that still run and finishes those whose pods are
 * gone, so nothing a pod compiled is lost to an agent restart and no folder is left behind.
 *
 * <p><b>Ownership</b>: a view belongs to the pod's user when the pod says who that is
 * ({@code runAsUser}, {@code runAsGroup}, {@code fsGroup}). When it does not (the image's USER
 * decides) the view is made writable by anyone; it is mounted into that one pod only. Root and
 * unknown users get copies rather than links: a root process could write a linked blob in place.
 */
public final class PodVolumes implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PodVolumes.class);

    private static final String ANNOTATION_INJECTED = Injected.ANNOTATION;
    private static final String ANNOTATION_FRAMEWORKS = Injected.ANNOTATION_FRAMEWORKS;
    private static final String ANNOTATION_CONTAINERS = Injected.ANNOTATION_CONTAINERS;
    private static final String WAIT_CONTAINER = Injected.WAIT_CONTAINER;
    private static final Pattern UID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** A live view and whom it is for. */
    private static final class Live {
        final String pod;
        final ViewSession session;
        /** A pass over this view is running (a slow one is never queued twice, nor waited for by others). */
        final java.util.concurrent.atomic.AtomicBoolean passing = new java.util.concurrent.atomic.AtomicBoolean();
        /** A container of the pod crashed, or the pod Failed (see {@link #outcome}). */
        volatile boolean crashed;

        Live(String pod, ViewSession session) {
            this.pod = pod;
            this.session = session;
        }

        View view() {
            return session.view();
        }

        /** Notes what the pod's status says of its run: a container that exited non-zero, or phase Failed. */
        void note(Pod p) {
            if (p.getStatus() == null) {
                return;
            }
            crashed |= "Failed".equals(p.getStatus().getPhase());
            if (p.getMetadata().getDeletionTimestamp() == null && p.getStatus().getContainerStatuses() != null) {
                for (ContainerStatus cs : p.getStatus().getContainerStatuses()) {
                    crashed |= exitedNonZero(cs.getState()) || exitedNonZero(cs.getLastState());
                }
            }
        }

        private static boolean exitedNonZero(io.fabric8.kubernetes.api.model.ContainerState st) {
            return st != null && st.getTerminated() != null && st.getTerminated().getExitCode() != null
                    && st.getTerminated().getExitCode() != 0;
        }

        /**
         * What the final pass may take. A pod failed when it ended Failed or a container of it exited
         * non-zero while the pod was not being deleted (a crash, also one kubelet restarted); a pod
         * deleted (scale-down, rollout) or Succeeded ended well: servers end by being deleted.
         */
        Pass outcome() {
            return crashed ? Pass.FAILED : Pass.SUCCEEDED;
        }
    }

    /** Ingest passes, one per view at a time, so a slow or hostile view never holds up another's. */
    private final java.util.concurrent.ExecutorService passes = java.util.concurrent.Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "mithril-pod-ingest");
        t.setDaemon(true);
        return t;
    });
    /** How long {@link #ingestAll} waits for its passes; a pass still running then goes on alone. */
    static final long INGEST_ALL_WAIT_MS = 30_000;

    private final NodeStore store;
    private final Views views;
    private final Ingester ingester;
    private final AgentMetrics metrics;
    private final Path volumes;
    private final Path state;
    private final NodeIdentity node;
    private final Map<String, Live> live = new ConcurrentHashMap<>();
    private final PodLocks locks = new PodLocks();
    /** Pods finished here: a late update of a pod that ended must not publish it again. */
    private final Map<String, Long> finished = new ConcurrentHashMap<>();
    /** Pods counted as started without a view ({@link #noView}). */
    private final Path coldMarkers;
    /** EmptyDir-mode pods seen before kubelet made their emptyDir: tried again at each periodic pass. */
    private final Map<String, Pod> awaitingFolder = new ConcurrentHashMap<>();
    /** Groups whose CompileCache was deleted with deletionPolicy Delete: no more ingest into them. */
    private final Set<GroupId> dropped = ConcurrentHashMap.newKeySet();

    private final ActivityFile activity;
    private final Path kubeletPods;
    /** The newest state of a pod the agent knows (its informer's), or null when it is gone. */
    private volatile java.util.function.UnaryOperator<Pod> latest = p -> p;
    private static final String ANNOTATION_VOLUME = Injected.ANNOTATION_VOLUME;
    /** The emptyDir the webhook adds in EmptyDir mode, as kubelet lays it out on the node. */
    static final String EMPTY_DIR = "volumes/kubernetes.io~empty-dir/mithril-cache";
    /** Whether a CompileCache exists: (namespace, name). */
    private final java.util.function.BiPredicate<String, String> cacheExists;

    /**
     * {@code cacheExists}: a pod is served only while its CompileCache exists, so a pod that sets the
     * webhook's annotations itself cannot grow a group no budget governs (it could only ever reach
     * its own namespace's groups anyway).
     */
    public PodVolumes(NodeStore store, Ingester ingester, AgentMetrics metrics, Path volumes, NodeIdentity node,
            java.util.function.BiPredicate<String, String> cacheExists) throws IOException {
        this(store, ingester, metrics, volumes, null, node, cacheExists);
    }

    /**
     * {@code kubeletPods}: kubelet's folder of pods ({@code /var/lib/kubelet/pods}), where the
     * emptyDir of a pod injected in EmptyDir mode lives; null when this agent cannot see it.
     */
    public PodVolumes(NodeStore store, Ingester ingester, AgentMetrics metrics, Path volumes, Path kubeletPods, NodeIdentity node,
            java.util.function.BiPredicate<String, String> cacheExists) throws IOException {
        this.kubeletPods = kubeletPods;
        this.cacheExists = cacheExists;
        this.activity = new ActivityFile(store.root());
        activity.load(metrics);
        this.store = store;
        this.views = new Views(store);
        this.ingester = ingester;
        this.metrics = metrics;
        this.volumes = Files.createDirectories(volumes);
        this.state = Files.createDirectories(store.root().resolve("pods"));
        this.coldMarkers = store.root().resolve("pods.cold");
        this.node = node;
    }

    /** Where a pod's outcome goes besides the metrics and the log (an Event on the pod, in a cluster). */
    public interface OutcomeReporter {
        void report(String namespace, String name, String uid, Diagnoser.Diagnosis why);
    }

    private volatile OutcomeReporter reporter = (ns, name, uid, why) -> { };

    public void reportTo(OutcomeReporter r) {
        this.reporter = r;
    }

    private static final String WAIT_GAVE_UP = "the pod's wait step gave up before the agent got to it "
            + "(the CompileCache's publishTimeoutSeconds, or the agent was not running)";

    /**
     * Counts and reports a pod that got no view, once: a marker in {@code <root>/pods.cold/} keeps an
     * agent restart from counting a pod that still runs cold again.
     */
    private void noView(Pod pod, String uid, String why) {
        Path marker = coldMarkers.resolve(uid);
        try {
            if (Files.exists(marker)) {
                return;
            }
            Files.createDirectories(coldMarkers);
            Files.writeString(marker, "");
        } catch (IOException e) {
            log.debug("no cold-start marker for {}: {}", uid, e.toString());
        }
        try {
            GroupId g = node.group(pod.getMetadata().getNamespace(), pod.getMetadata().getAnnotations().get(ANNOTATION_INJECTED));
            outcome(name(pod), uid, g, Diagnoser.noView(why));
            activity.save(metrics);
        } catch (InvalidNameException e) {
            log.debug("no outcome for a pod of no group: {}", e.getMessage());
        }
    }

    /** Counts a pod's outcome for its group and reports it; {@code pod} is {@code ns/name} (or {@code gone:uid}: not reported). */
    private void outcome(String pod, String uid, GroupId group, Diagnoser.Diagnosis why) {
        metrics.groupOutcome(group, why.outcome(), 1);
        int slash = pod.indexOf('/');
        if (slash > 0 && !pod.startsWith("gone:")) {
            try {
                reporter.report(pod.substring(0, slash), pod.substring(slash + 1), uid, why);
            } catch (RuntimeException e) {
                log.warn("could not report the outcome of {}: {}", pod, e.toString());
            }
        }
    }

    /** Where to look up a pod's newest state just before publishing (events can wait in a queue). */
    public void latestFrom(java.util.function.UnaryOperator<Pod> lookup) {
        this.latest = lookup;
    }

    public NodeIdentity node() {
        return node;
    }

    /** The view folder of a pod injected in HostPath mode (whether or not it exists). */
    public Path viewDir(String podUid) {
        return volumes.resolve(podUid);
    }

    /** Whether the webhook gave this pod its view through its own emptyDir. */
    static boolean emptyDirMode(Pod pod) {
        return "EmptyDir".equals(pod.getMetadata().getAnnotations().get(ANNOTATION_VOLUME));
    }

    /** The pod's view folder: its emptyDir in kubelet's folder, or its folder under the volumes hostPath. */
    Path viewDir(Pod pod, String uid) {
        return emptyDirMode(pod) ? (kubeletPods == null ? null : kubeletPods.resolve(uid).resolve(EMPTY_DIR)) : viewDir(uid);
    }


    /**
     * Whether {@code dir} is the injected emptyDir of pod {@code uid} under kubelet's folder and nothing
     * else: a UID as the API server makes them, and every folder from {@code kubeletPods} down a real
     * folder, no link. In EmptyDir mode the agent mounts all of kubelet's pod folder (every pod's Secrets
     * and tokens); this keeps what it writes, reads and removes to the one folder the webhook injected.
     */
    static boolean kubeletEmptyDir(Path kubeletPods, String uid, Path dir) {
        if (kubeletPods == null || !UID.matcher(uid).matches() || !dir.equals(kubeletPods.resolve(uid).resolve(EMPTY_DIR))) {
            return false;
        }
        Path p = kubeletPods;
        for (Path part : kubeletPods.relativize(dir)) {
            p = p.resolve(part);
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }

    /** UIDs of the pods with a live view. */
    public Set<String> livePods() {
        return Set.copyOf(live.keySet());
    }

    /** A pod as the API server shows it now: publishes, or finishes, as its state asks. */
    public void observe(Pod pod) {
        String uid = pod.getMetadata().getUid();
        if (!takesPart(pod)) {
            return;
        }
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        boolean terminal = "Succeeded".equals(phase) || "Failed".equals(phase);
        Live seen = live.get(uid);
        if (seen != null) {
            seen.note(pod);
            if (!terminal) {
                return; // a live view with nothing to do: never wait here on that pod's ingest pass
            }
        }
        try (PodLocks.Held held = locks.hold(uid)) {
            try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName())) {
                if (terminal) {
                    finishLocked(uid);
                } else if (!live.containsKey(uid) && !finished.containsKey(uid)) {
                    String cache = pod.getMetadata().getAnnotations().get(ANNOTATION_INJECTED);
                    if (!cacheExists.test(pod.getMetadata().getNamespace(), cache)) {
                        log.info("not publishing (yet): CompileCache {} does not exist in {}", cache.replaceAll("\\p{Cntrl}", "?"),
                                pod.getMetadata().getNamespace());
                        return; // a later update of the pod tries again
                    }
                    if (waitStepEnded(pod)) {
                        log.info("not publishing: the pod's wait step already ended (it runs cold)");
                        finished.put(uid, System.currentTimeMillis());
                        noView(pod, uid, WAIT_GAVE_UP);
                        return;
                    }
                    publishLocked(pod, uid);
                }
            }
        }
    }

    /** A pod was removed from the API server (or is no longer bound here). */
    public void gone(String uid) {
        if (uid == null || !UID.matcher(uid).matches()) {
            return;
        }
        try (PodLocks.Held held = locks.hold(uid)) {
            finishLocked(uid);
        } // the pod's lock goes with its last holder (PodLocks)
    }

    /** One ingest pass over every live view (and another try for pods whose emptyDir was not there yet). */
    public void ingestAll() {
        pruneFinished();
        for (String uid : new ArrayList<>(awaitingFolder.keySet())) {
            Pod p = awaitingFolder.remove(uid);
            if (p != null) {
                observe(p);
            }
        }
        List<java.util.concurrent.Future<?>> running = new ArrayList<>();
        for (String uid : new ArrayList<>(live.keySet())) {
            Live l0 = live.get(uid);
            if (l0 == null || !l0.passing.compareAndSet(false, true)) {
                continue; // its last pass still runs
            }
            running.add(passes.submit(() -> {
                try {
                    try (PodLocks.Held held = locks.hold(uid)) {
                        Live l = live.get(uid);
                        if (l == null || l != l0 || dropped.contains(l.view().group())) {
                            return;
                        }
                        try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", l.pod)) {
                            IngestReport r = l.session.pass();
                            if (r != null) {
                                metrics.ingested(r);
                            }
                        } catch (RuntimeException e) {
                            log.warn("ingest failed: {}", e.toString());
                        }
                    }
                } finally {
                    l0.passing.set(false);
                }
            }));
        }
        long until = System.nanoTime() + INGEST_ALL_WAIT_MS * 1_000_000;
        for (java.util.concurrent.Future<?> f : running) {
            try {
                f.get(Math.max(0, until - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.TimeoutException slow) {
                log.warn("an ingest pass is still running after {} ms; the others go on", INGEST_ALL_WAIT_MS);
            } catch (java.util.concurrent.ExecutionException e) {
                log.warn("ingest failed: {}", e.getCause().toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * After a restart: adopts the views of pods in {@code podsOnNode} that still take part, and
     * finishes every other view folder (a final ingest when its record says what it was, then removal).
     */
    public void recover(Collection<Pod> podsOnNode) throws IOException {
        Map<String, Pod> byUid = new java.util.HashMap<>();
        for (Pod p : podsOnNode) {
            byUid.put(p.getMetadata().getUid(), p);
        }
        if (Files.isDirectory(coldMarkers)) {
            try (var ds = Files.newDirectoryStream(coldMarkers)) {
                for (Path m : ds) {
                    if (!byUid.containsKey(m.getFileName().toString())) {
                        Files.deleteIfExists(m); // that pod is gone
                    }
                }
            }
        }
        List<String> folders = new ArrayList<>();
        try (var ds = Files.newDirectoryStream(volumes)) {
            ds.forEach(p -> folders.add(p.getFileName().toString()));
        }
        try (var ds = Files.newDirectoryStream(state)) {
            ds.forEach(p -> {
                String n = p.getFileName().toString();
                if (!folders.contains(n)) {
                    folders.add(n);
                }
            });
        }
        for (String uid : folders) {
            if (!UID.matcher(uid).matches()) {
                log.warn("ignoring {} in {}: not a pod UID", uid.replaceAll("\\p{Cntrl}", "?"), volumes);
                continue;
            }
            Pod pod = byUid.get(uid);
            try (PodLocks.Held held = locks.hold(uid)) {
                Record rec = readRecord(uid);
                Path dir = rec != null ? rec.dir() : viewDir(uid);
                boolean keep = rec != null && rec.keepFolder();
                boolean running = pod != null && takesPart(pod) && !terminal(pod);
                if (running && rec != null && Views.isReady(dir)) {
                    ViewSession s = ViewSession.adopt(views, ingester, rec.group(), dir, rec.frameworks(), rec.mode(), "pod:" + name(pod), keep);
                    live.put(uid, new Live(name(pod), s));
                    log.info("adopted the view of {} after a restart ({} entries pinned)", name(pod), s.view().entries().size());
                } else if (running) {
                    // publish not finished before the restart. Still in its wait step, nothing of the pod
                    // has run: empty what the last run left so that observe() can publish. Else the pod
                    // runs cold in it and only its end is ours to handle.
                    if (rec != null && !waitStepEnded(pod) && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                        FileTrees.clearFolder(dir);
                    }
                    continue;
                } else if (rec != null && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    ViewSession s = ViewSession.adopt(views, ingester, rec.group(), dir, rec.frameworks(), rec.mode(), "pod:gone:" + uid, keep);
                    live.put(uid, new Live("gone:" + uid, s));
                    finishLocked(uid);
                } else {
                    if (!keep) {
                        FileTrees.deleteTree(dir); // ours; an emptyDir is kubelet's to remove
                    }
                    Files.deleteIfExists(state.resolve(uid));
                }
            }
        }
    }

    /**
     * The CompileCache of these groups was deleted with {@code deletionPolicy: Delete}: its entries
     * go now, and live views of it stop feeding the store (their pods keep running on what they have).
     */
    public int dropGroup(GroupId group) throws IOException {
        dropped.add(group);
        int n = 0;
        for (Entry e : store.entries(group)) {
            if (store.delete(e.key())) {
                n++;
            }
        }
        log.info("CompileCache {}/{} deleted with deletionPolicy Delete: removed {} entries of {}", group.namespace(),
                group.cache(), n, group.text());
        return n;
    }

    /** The CompileCache exists (again): its group takes ingest. */
    public void undrop(GroupId group) {
        dropped.remove(group);
    }

    // ------------------------------------------------------------------ steps (under the pod's lock)

    private void publishLocked(Pod seen, String uid) {
        Pod pod = latest.apply(seen); // the event may have waited in the queue: the pod could have started cold since
        if (pod == null) {
            return; // gone meanwhile: its delete event finishes it
        }
        if (waitStepEnded(pod)) {
            log.info("not publishing: the pod's wait step already ended (it runs cold)");
            finished.put(uid, System.currentTimeMillis());
            noView(pod, uid, WAIT_GAVE_UP);
            return;
        }
        GroupId group;
        try {
            group = node.group(pod.getMetadata().getNamespace(), pod.getMetadata().getAnnotations().get(ANNOTATION_INJECTED));
        } catch (InvalidNameException e) {
            log.warn("not publishing: {}", e.getMessage());
            finished.put(uid, System.currentTimeMillis());
            return;
        }
        Set<Framework> frameworks = frameworks(pod.getMetadata().getAnnotations().get(ANNOTATION_FRAMEWORKS));
        Access access = access(pod);
        boolean emptyDir = emptyDirMode(pod);
        Path dir = viewDir(pod, uid);
        if (dir == null) {
            log.warn("not publishing: the pod was injected in EmptyDir mode and this agent has no --kubelet-pods");
            finished.put(uid, System.currentTimeMillis());
            return;
        }
        if (emptyDir && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            log.debug("kubelet has not made the pod's emptyDir yet; trying again at the next pass or update");
            awaitingFolder.put(uid, pod);
            return;
        }
        if (emptyDir && !kubeletEmptyDir(kubeletPods, uid, dir)) {
            log.warn("not publishing: {} is not the pod's own emptyDir folder (a link on the way, or a malformed uid)", dir);
            finished.put(uid, System.currentTimeMillis());
            return;
        }
        try {
            writeRecord(uid, new Record(group, frameworks, access.mode(), dir, emptyDir));
            ViewSession s = ViewSession.publish(views, ingester, group, dir, frameworks, access.owner(), access.mode(), node.cudaDriver(),
                    "pod:" + name(pod), emptyDir);
            View v = s.view();
            metrics.published(v);
            live.put(uid, new Live(name(pod), s));
            log.info("published {} entries ({} bytes) of {} in {} ms", v.entries().size(), v.bytes(), group.text(),
                    v.publishNanos() / 1_000_000);
        } catch (IOException | RuntimeException e) {
            // the pod's wait step gives up and it runs cold: fail-open
            log.warn("publish failed, the pod will start cold: {}", e.toString());
            noView(pod, uid, e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
            if (!(e instanceof Views.ViewRefusedException)) {
                Pod now = latest.apply(pod);
                if (!emptyDir || (now != null && !waitStepEnded(now))) {
                    FileTrees.clearFolder(dir); // what this publish left (a cold pod never writes a HostPath view)
                }
            }
        }
    }

    private void finishLocked(String uid) {
        finished.put(uid, System.currentTimeMillis());
        awaitingFolder.remove(uid);
        Live l = live.remove(uid);
        if (l == null) {
            forget(uid); // no view (cold, refused, failed): what kubelet or a partial publish left still goes
            return;
        }
        try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", l.pod)) {
            GroupId group = l.view().group();
            ViewSession.Result end = dropped.contains(group) ? l.session.endWithoutIngest() : l.session.end(l.outcome());
            if (end.last() != null) {
                metrics.ingested(end.last());
            }
            int read = end.read().size();
            metrics.entriesRead(read);
            metrics.groupActivity(group, read, end.total().entries());
            outcome(l.pod, uid, group, end.why());
            activity.save(metrics);
            log.info("finished: read {} entries (hits), ingested {} (misses); {}", read, end.total().entries(), end.why().line());
            Files.deleteIfExists(state.resolve(uid));
        } catch (IOException e) {
            log.warn("could not remove the record of {}: {}", uid, e.toString());
        }
    }

    /** Removes a pod's record and, unless it is kubelet's emptyDir, its folder under the volumes folder. */
    private void forget(String uid) {
        try {
            Files.deleteIfExists(coldMarkers.resolve(uid));
            Record rec = readRecord(uid);
            if (rec == null || !rec.keepFolder()) {
                FileTrees.deleteTree(viewDir(uid));
            }
            Files.deleteIfExists(state.resolve(uid));
        } catch (IOException e) {
            log.warn("could not remove what is left of pod {}: {}", uid, e.toString());
        }
    }

    /** Drops finished pods older than an hour: a stale event of a pod that old cannot arrive any more. */
    private void pruneFinished() {
        long cutoff = System.currentTimeMillis() - 3_600_000L;
        finished.values().removeIf(t -> t < cutoff);
    }

    // ------------------------------------------------------------------ what a pod is

    boolean takesPart(Pod pod) {
        if (pod.getMetadata() == null || pod.getSpec() == null || pod.getMetadata().getAnnotations() == null) {
            return false;
        }
        String uid = pod.getMetadata().getUid();
        return pod.getMetadata().getAnnotations().containsKey(ANNOTATION_INJECTED)
                && node.node().equals(pod.getSpec().getNodeName())
                && uid != null && UID.matcher(uid).matches();
    }

    private static boolean terminal(Pod pod) {
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        return "Succeeded".equals(phase) || "Failed".equals(phase);
    }

    private static boolean waitStepEnded(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getInitContainerStatuses() == null) {
            return false;
        }
        for (ContainerStatus s : pod.getStatus().getInitContainerStatuses()) {
            if (WAIT_CONTAINER.equals(s.getName()) && s.getState() != null && s.getState().getTerminated() != null) {
                return true;
            }
        }
        return false;
    }

    private static String name(Pod pod) {
        return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    }

    /** The webhook's framework names (the CRD's enum) to the agent's; unknown names are skipped. */
    static Set<Framework> frameworks(String annotation) {
        Set<Framework> out = new LinkedHashSet<>();
        for (String n : (annotation == null ? "Inductor,Triton" : annotation).split(",")) {
            Framework f = switch (n.trim()) {
                case "Inductor" -> Framework.INDUCTOR;
                case "Triton" -> Framework.TRITON;
                case "VLLM" -> Framework.VLLM;
                case "SGLang" -> Framework.SGLANG;
                case "FlashInfer" -> Framework.FLASHINFER;
                case "CudaJIT" -> Framework.CUDA;
                default -> null;
            };
            if (f != null) {
                out.add(f);
            }
        }
        return out.isEmpty() ? Framework.defaults() : out;
    }

    record Access(Views.Owner owner, PublishMode mode) {}

    /** Who the injected containers run as, as far as the pod says, and so how to publish. */
    static Access access(Pod pod) {
        PodSecurityContext psc = pod.getSpec().getSecurityContext();
        Set<String> injected = new HashSet<>(Arrays.asList(
                Objects.requireNonNullElse(pod.getMetadata().getAnnotations().get(ANNOTATION_CONTAINERS), "").split(",")));
        Set<Long> uids = new HashSet<>();
        Set<Long> gids = new HashSet<>();
        for (Container c : pod.getSpec().getContainers()) {
            if (!injected.contains(c.getName())) {
                continue;
            }
            SecurityContext sc = c.getSecurityContext();
            uids.add(sc != null && sc.getRunAsUser() != null ? sc.getRunAsUser() : psc == null ? null : psc.getRunAsUser());
            Long gid = sc != null && sc.getRunAsGroup() != null ? sc.getRunAsGroup() : psc == null ? null : psc.getRunAsGroup();
            gids.add(gid != null ? gid : psc == null ? null : psc.getFsGroup());
        }
        Long uid = uids.size() == 1 ? uids.iterator().next() : null;
        Long gid = gids.size() == 1 ? gids.iterator().next() : null;
        if (uid == null) {
            return new Access(new Views.Owner(null, gid == null ? null : gid.intValue(), true), PublishMode.COPY);
        }
        return new Access(new Views.Owner(uid.intValue(), gid == null ? null : gid.intValue()),
                uid == 0 ? PublishMode.COPY : PublishMode.LINK);
    }

    // ------------------------------------------------------------------ the record of a view, for restarts

    record Record(GroupId group, Set<Framework> frameworks, PublishMode mode, Path dir, boolean keepFolder) {}

    private void writeRecord(String uid, Record r) throws IOException {
        StringBuilder fw = new StringBuilder();
        for (Framework f : r.frameworks()) {
            fw.append(fw.length() == 0 ? "" : ",").append(f.dir());
        }
        Path tmp = state.resolve(uid + ".tmp");
        Files.writeString(tmp, r.group().text() + "\n" + fw + "\n" + r.mode().name() + "\n" + r.dir() + "\n" + r.keepFolder() + "\n",
                StandardCharsets.UTF_8);
        Files.move(tmp, state.resolve(uid), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private Record readRecord(String uid) {
        try {
            List<String> lines = Files.readAllLines(state.resolve(uid), StandardCharsets.UTF_8);
            Path dir = Path.of(lines.get(3));
            if (!dir.startsWith(volumes) && (kubeletPods == null || !dir.startsWith(kubeletPods))) {
                return null; // not a folder this agent hands out: never act on it
            }
            return new Record(GroupId.parse(lines.get(0)), Framework.parseList(lines.get(1)), PublishMode.valueOf(lines.get(2)), dir,
                    Boolean.parseBoolean(lines.get(4)));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Forgets the live views: an agent stopping is not a pod ending, so views and records stay for the next start. */
    @Override
    public void close() {
        passes.shutdownNow();
        views.close();
        live.clear();
    }
}
