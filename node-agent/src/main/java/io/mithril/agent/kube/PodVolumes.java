package io.mithril.agent.kube;

import io.mithril.agent.diagnosis.Diagnoser;
import io.fabric8.kubernetes.api.model.Pod;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.fs.NodeRoot;
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
import java.util.Collection;
import java.util.List;
import java.util.Map;
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

    private static final Pattern UID = PodFacts.UID;

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
        void note(PodFacts f) {
            crashed |= f.crashed();
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
    private final java.time.Clock clock;
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
        this(store, ingester, metrics, volumes, kubeletPods, node, cacheExists, java.time.Clock.systemUTC());
    }

    /** As above, reading the time from {@code clock} (when a pod finished, when a view was published). */
    PodVolumes(NodeStore store, Ingester ingester, AgentMetrics metrics, Path volumes, Path kubeletPods, NodeIdentity node,
            java.util.function.BiPredicate<String, String> cacheExists, java.time.Clock clock) throws IOException {
        this.clock = clock;
        this.kubeletPods = kubeletPods;
        this.cacheExists = cacheExists;
        this.activity = new ActivityFile(store.root());
        activity.load(metrics);
        this.store = store;
        this.views = new Views(store, clock);
        this.ingester = ingester;
        this.metrics = metrics;
        this.volumes = Files.createDirectories(volumes);
        this.state = Files.createDirectories(NodeRoot.pods(store.root()));
        this.coldMarkers = NodeRoot.podsCold(store.root());
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
    private void noView(PodFacts pod, String why) {
        String uid = pod.uid();
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
            GroupId g = node.group(pod.namespace(), pod.cache());
            outcome(pod.display(), uid, g, Diagnoser.noView(why));
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

    /** The pod's view folder: its emptyDir in kubelet's folder, or its folder under the volumes hostPath. */
    Path viewDir(PodFacts pod) {
        return pod.emptyDirMode() ? (kubeletPods == null ? null : kubeletPods.resolve(pod.uid()).resolve(EMPTY_DIR)) : viewDir(pod.uid());
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
        PodFacts facts = PodFacts.of(pod).filter(f -> f.takesPart(node.node())).orElse(null);
        if (facts == null) {
            return;
        }
        String uid = facts.uid();
        boolean terminal = facts.terminal();
        Live seen = live.get(uid);
        if (seen != null) {
            seen.note(facts);
            if (!terminal) {
                return; // a live view with nothing to do: never wait here on that pod's ingest pass
            }
        }
        try (PodLocks.Held held = locks.hold(uid)) {
            try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", facts.display())) {
                if (terminal) {
                    finishLocked(uid);
                } else if (!live.containsKey(uid) && !finished.containsKey(uid)) {
                    if (!cacheExists.test(facts.namespace(), facts.cache())) {
                        log.info("not publishing (yet): CompileCache {} does not exist in {}", facts.cache().replaceAll("\\p{Cntrl}", "?"),
                                facts.namespace());
                        return; // a later update of the pod tries again
                    }
                    if (facts.waitStepEnded()) {
                        log.info("not publishing: the pod's wait step already ended (it runs cold)");
                        finished.put(uid, clock.millis());
                        noView(facts, WAIT_GAVE_UP);
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
            PodFacts pod = PodFacts.of(byUid.get(uid)).filter(f -> f.takesPart(node.node())).orElse(null);
            try (PodLocks.Held held = locks.hold(uid)) {
                PodRecord rec = readRecord(uid);
                Path dir = rec != null ? rec.dir() : viewDir(uid);
                boolean keep = rec != null && rec.keepFolder();
                boolean running = pod != null && !pod.terminal();
                if (running && rec != null && Views.isReady(dir)) {
                    ViewSession s = ViewSession.adopt(views, ingester, rec.group(), dir, rec.frameworks(), rec.mode(), "pod:" + pod.display(), keep);
                    live.put(uid, new Live(pod.display(), s));
                    log.info("adopted the view of {} after a restart ({} entries pinned)", pod.display(), s.view().entries().size());
                } else if (running) {
                    // publish not finished before the restart. Still in its wait step, nothing of the pod
                    // has run: empty what the last run left so that observe() can publish. Else the pod
                    // runs cold in it and only its end is ours to handle.
                    if (rec != null && !pod.waitStepEnded() && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
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
        Pod newest = latest.apply(seen); // the event may have waited in the queue: the pod could have started cold since
        PodFacts pod = PodFacts.of(newest).orElse(null);
        if (pod == null) {
            return; // gone meanwhile: its delete event finishes it
        }
        if (pod.waitStepEnded()) {
            log.info("not publishing: the pod's wait step already ended (it runs cold)");
            finished.put(uid, clock.millis());
            noView(pod, WAIT_GAVE_UP);
            return;
        }
        GroupId group;
        try {
            group = node.group(pod.namespace(), pod.cache());
        } catch (InvalidNameException e) {
            log.warn("not publishing: {}", e.getMessage());
            finished.put(uid, clock.millis());
            return;
        }
        Set<Framework> frameworks = pod.frameworks();
        PodFacts.Access access = pod.access();
        boolean emptyDir = pod.emptyDirMode();
        Path dir = viewDir(pod);
        if (dir == null) {
            log.warn("not publishing: the pod was injected in EmptyDir mode and this agent has no --kubelet-pods");
            finished.put(uid, clock.millis());
            return;
        }
        if (emptyDir && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            log.debug("kubelet has not made the pod's emptyDir yet; trying again at the next pass or update");
            awaitingFolder.put(uid, newest);
            return;
        }
        if (emptyDir && !kubeletEmptyDir(kubeletPods, uid, dir)) {
            log.warn("not publishing: {} is not the pod's own emptyDir folder (a link on the way, or a malformed uid)", dir);
            finished.put(uid, clock.millis());
            return;
        }
        try {
            writeRecord(uid, new PodRecord(group, frameworks, access.mode(), dir, emptyDir));
            ViewSession s = ViewSession.publish(views, ingester, group, dir, frameworks, access.owner(), access.mode(), node.cudaDriver(),
                    "pod:" + pod.display(), emptyDir);
            View v = s.view();
            metrics.published(v);
            live.put(uid, new Live(pod.display(), s));
            log.info("published {} entries ({} bytes) of {} in {} ms", v.entries().size(), v.bytes(), group.text(),
                    v.publishNanos() / 1_000_000);
        } catch (IOException | RuntimeException e) {
            // the pod's wait step gives up and it runs cold: fail-open
            log.warn("publish failed, the pod will start cold: {}", e.toString());
            noView(pod, e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
            if (!(e instanceof Views.ViewRefusedException)) {
                PodFacts now = PodFacts.of(latest.apply(newest)).orElse(null);
                if (!emptyDir || (now != null && !now.waitStepEnded())) {
                    FileTrees.clearFolder(dir); // what this publish left (a cold pod never writes a HostPath view)
                }
            }
        }
    }

    private void finishLocked(String uid) {
        finished.put(uid, clock.millis());
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
            PodRecord rec = readRecord(uid);
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
        long cutoff = clock.millis() - 3_600_000L;
        finished.values().removeIf(t -> t < cutoff);
    }

    // ------------------------------------------------------------------ what a pod is

    boolean takesPart(Pod pod) {
        return PodFacts.of(pod).map(f -> f.takesPart(node.node())).orElse(false);
    }

    // ------------------------------------------------------------------ the record of a view, for restarts

    private void writeRecord(String uid, PodRecord r) throws IOException {
        Path tmp = state.resolve(uid + ".tmp");
        Files.writeString(tmp, r.text(), StandardCharsets.UTF_8);
        Files.move(tmp, state.resolve(uid), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The pod's record; null when there is none, it cannot be read, or it names a folder this agent does not hand out. */
    private PodRecord readRecord(String uid) {
        try {
            PodRecord r = PodRecord.parse(Files.readAllLines(state.resolve(uid), StandardCharsets.UTF_8));
            if (!r.dir().startsWith(volumes) && (kubeletPods == null || !r.dir().startsWith(kubeletPods))) {
                return null; // never act on it
            }
            return r;
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
