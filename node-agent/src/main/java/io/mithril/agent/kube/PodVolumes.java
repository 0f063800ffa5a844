package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.mithril.agent.diagnosis.Diagnoser;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.fs.NodeRoot;
import io.mithril.agent.index.Entry;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.key.InvalidNameException;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.volume.FileTrees;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.ViewSession;
import io.mithril.agent.volume.Views;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiPredicate;
import java.util.function.UnaryOperator;
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
 * <p><b>State</b>: each pod the agent tracks is one {@link TrackedPod} in one map, in one named
 * {@link PodState}; it moves only along that enum's table, under the pod's lock (the full table,
 * with when each move happens, is {@link PodState}'s):
 * <pre>
 *   NEW --> PUBLISHING --> LIVE --> FINISHING --> DONE    ended or gone: via FINISHING when LIVE, else straight to DONE
 *             |   ^  \--> COLD, REFUSED                   its wait step ended; this agent cannot serve it
 *             |   |   \-> NEW                             publish failed, or gone meanwhile
 *             v   | update
 *       AWAITING_FOLDER --pass--> NEW                     EmptyDir mode, no emptyDir yet; seen afresh each pass
 *   NEW --> COLD (wait step already ended), LIVE (recover adopts a view)
 *   COLD, REFUSED, DONE --an hour later--> NEW
 * </pre>
 * NEW is not held (in no map); COLD, REFUSED and DONE are settled (never published again) and
 * forgotten an hour later. Paths that must not wait on a pod's ingest pass (an update of a live pod,
 * {@link #livePods}) read the state without the lock.
 *
 * <p><b>Restart</b>: what a view is (its group, frameworks, publish mode) is recorded before
 * publishing under {@code <store>/pods/<uid>}, outside the pod's reach (the pod can write its whole
 * view). {@link #recover} adopts the views of pods that still run and finishes those whose pods are
 * gone ({@link Recovery}), so nothing a pod compiled is lost to an agent restart and no folder is
 * left behind.
 *
 * <p><b>Ownership</b>: a view belongs to the pod's user when the pod says who that is
 * ({@code runAsUser}, {@code runAsGroup}, {@code fsGroup}). When it does not (the image's USER
 * decides) the view is made writable by anyone; it is mounted into that one pod only. Root and
 * unknown users get copies rather than links: a root process could write a linked blob in place.
 */
public final class PodVolumes implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PodVolumes.class);

    private static final Pattern UID = PodFacts.UID;
    /** How long {@link #ingestAll} waits for its passes; a pass still running then goes on alone. */
    static final long INGEST_ALL_WAIT_MS = 30_000;
    /** The emptyDir the webhook adds in EmptyDir mode, as kubelet lays it out on the node. */
    static final String EMPTY_DIR = "volumes/kubernetes.io~empty-dir/mithril-cache";
    /** How long a settled pod is remembered: a stale event of a pod that old cannot arrive any more. */
    private static final long SETTLED_FOR_MS = 3_600_000L;

    private static final String WAIT_GAVE_UP = "the pod's wait step gave up before the agent got to it "
            + "(the CompileCache's publishTimeoutSeconds, or the agent was not running)";

    /** Ingest passes, one per view at a time, so a slow or hostile view never holds up another's. */
    private final ExecutorService passes = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "mithril-pod-ingest");
        t.setDaemon(true);
        return t;
    });

    private final NodeStore store;
    private final Clock clock;
    private final Views views;
    private final Ingester ingester;
    private final AgentMetrics metrics;
    private final Path volumes;
    private final Path state;
    private final NodeIdentity node;
    /** Every pod not in NEW, by UID; entries are added, replaced and removed under the pod's lock ({@link #track}). */
    private final Map<String, TrackedPod> pods = new ConcurrentHashMap<>();

    private final PodLocks locks = new PodLocks();
    /** Pods counted as started without a view ({@link #noView}). */
    private final Path coldMarkers;
    /** Groups whose CompileCache was deleted with deletionPolicy Delete: no more ingest into them. */
    private final Set<GroupId> dropped = ConcurrentHashMap.newKeySet();

    private final ActivityFile activity;
    private final Path kubeletPods;
    /** Whether a CompileCache exists: (namespace, name). */
    private final BiPredicate<String, String> cacheExists;
    /** The newest state of a pod the agent knows (its informer's), or null when it is gone. */
    private volatile UnaryOperator<Pod> latest = p -> p;

    private volatile OutcomeReporter reporter = (ns, name, uid, why) -> {};
    /** The remote tier, when the agent has one: fills before publishing, takes what pods that went well produced. */
    private volatile PodRemote remote;

    /** Where a pod's outcome goes besides the metrics and the log (an Event on the pod, in a cluster). */
    public interface OutcomeReporter {
        void report(String namespace, String name, String uid, Diagnoser.Diagnosis why);
    }

    /**
     * {@code cacheExists}: a pod is served only while its CompileCache exists, so a pod that sets the
     * webhook's annotations itself cannot grow a group no budget governs (it could only ever reach
     * its own namespace's groups anyway).
     */
    public PodVolumes(
            NodeStore store,
            Ingester ingester,
            AgentMetrics metrics,
            Path volumes,
            NodeIdentity node,
            BiPredicate<String, String> cacheExists)
            throws IOException {
        this(store, ingester, metrics, volumes, null, node, cacheExists);
    }

    /**
     * {@code kubeletPods}: kubelet's folder of pods ({@code /var/lib/kubelet/pods}), where the
     * emptyDir of a pod injected in EmptyDir mode lives; null when this agent cannot see it.
     */
    public PodVolumes(
            NodeStore store,
            Ingester ingester,
            AgentMetrics metrics,
            Path volumes,
            Path kubeletPods,
            NodeIdentity node,
            BiPredicate<String, String> cacheExists)
            throws IOException {
        this(store, ingester, metrics, volumes, kubeletPods, node, cacheExists, Clock.systemUTC());
    }

    /** As above, reading the time from {@code clock} (when a pod finished, when a view was published). */
    PodVolumes(
            NodeStore store,
            Ingester ingester,
            AgentMetrics metrics,
            Path volumes,
            Path kubeletPods,
            NodeIdentity node,
            BiPredicate<String, String> cacheExists,
            Clock clock)
            throws IOException {
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

    public void reportTo(OutcomeReporter r) {
        this.reporter = r;
    }

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

    /** Uses the remote tier {@code r} (null: none) for the pods published from now on. */
    void remoteTo(PodRemote r) {
        this.remote = r;
    }

    /** Queues for upload what {@code t}'s view committed, once the pod may share it ({@link TrackedPod#toUpload}). */
    private void queueUp(TrackedPod t, List<String> committed) {
        PodRemote r = remote;
        if (r == null) {
            return;
        }
        List<String> up = t.toUpload(committed);
        GroupId g = t.view().group();
        if (!up.isEmpty() && r.enabled(g.namespace(), g.cache())) {
            r.produced(g, up);
        }
    }

    /** Where to look up a pod's newest state just before publishing (events can wait in a queue). */
    public void latestFrom(UnaryOperator<Pod> lookup) {
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
        return pod.emptyDirMode()
                ? (kubeletPods == null ? null : kubeletPods.resolve(pod.uid()).resolve(EMPTY_DIR))
                : viewDir(pod.uid());
    }

    /**
     * Whether {@code dir} is the injected emptyDir of pod {@code uid} under kubelet's folder and nothing
     * else: a UID as the API server makes them, and every folder from {@code kubeletPods} down a real
     * folder, no link. In EmptyDir mode the agent mounts all of kubelet's pod folder (every pod's Secrets
     * and tokens); this keeps what it writes, reads and removes to the one folder the webhook injected.
     */
    static boolean kubeletEmptyDir(Path kubeletPods, String uid, Path dir) {
        if (kubeletPods == null
                || !UID.matcher(uid).matches()
                || !dir.equals(kubeletPods.resolve(uid).resolve(EMPTY_DIR))) {
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
        Set<String> uids = new HashSet<>();
        for (TrackedPod t : pods.values()) {
            if (t.state() == PodState.LIVE) {
                uids.add(t.uid());
            }
        }
        return Set.copyOf(uids);
    }

    /** The state pod {@code uid} is in here; NEW when it is not tracked. */
    PodState stateOf(String uid) {
        TrackedPod t = pods.get(uid);
        return t == null ? PodState.NEW : t.state();
    }

    /** A pod as the API server shows it now: publishes, or finishes, as its state asks. */
    public void observe(Pod pod) {
        PodFacts facts = served(pod);
        if (facts == null) {
            return;
        }
        String uid = facts.uid();
        boolean terminal = facts.terminal();
        TrackedPod seen = pods.get(uid);
        if (seen != null && seen.state() == PodState.LIVE) {
            seen.note(facts);
            if (!terminal) {
                return; // a live view with nothing to do: never wait here on that pod's ingest pass
            }
        }
        try (PodLocks.Held held = locks.hold(uid)) {
            try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", facts.display())) {
                TrackedPod t = tracked(uid);
                if (terminal) {
                    finishLocked(t);
                } else if (t.state().canMoveTo(PodState.PUBLISHING)) {
                    if (!cacheExists.test(facts.namespace(), facts.cache())) {
                        log.info(
                                "not publishing (yet): CompileCache {} does not exist in {}",
                                facts.cache().replaceAll("\\p{Cntrl}", "?"),
                                facts.namespace());
                        return; // a later update of the pod tries again
                    }
                    if (facts.waitStepEnded()) {
                        runsCold(t, facts);
                        return;
                    }
                    publishLocked(t, pod);
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
            finishLocked(tracked(uid));
        } // the pod's lock goes with its last holder (PodLocks)
    }

    /** One ingest pass over every live view (and another try for pods whose emptyDir was not there yet). */
    public void ingestAll() {
        forgetSettled();
        for (TrackedPod t : List.copyOf(pods.values())) { // a copy: seen afresh, a pod may be held again
            if (t.state() == PodState.AWAITING_FOLDER) {
                Pod p = seenAfresh(t);
                if (p != null) {
                    observe(p);
                }
            }
        }
        List<Future<?>> running = new ArrayList<>();
        for (TrackedPod t : List.copyOf(pods.values())) {
            if (t.state() != PodState.LIVE || !t.startPass()) {
                continue; // its last pass still runs
            }
            running.add(passes.submit(() -> pass(t)));
        }
        long until = System.nanoTime() + INGEST_ALL_WAIT_MS * 1_000_000;
        for (Future<?> f : running) {
            try {
                f.get(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException slow) {
                log.warn("an ingest pass is still running after {} ms; the others go on", INGEST_ALL_WAIT_MS);
            } catch (ExecutionException e) {
                log.warn("ingest failed: {}", e.getCause().toString());
            } catch (CancellationException closing) {
                return; // the agent closes: the pass never started
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** AWAITING_FOLDER to NEW, handing back the pod as last seen; null when it moved on meanwhile. */
    private Pod seenAfresh(TrackedPod t) {
        try (PodLocks.Held held = locks.hold(t.uid())) {
            if (pods.get(t.uid()) != t || t.state() != PodState.AWAITING_FOLDER) {
                return null;
            }
            Pod p = t.awaiting();
            move(t, PodState.NEW);
            return p;
        }
    }

    /** One periodic pass over {@code t}'s view, unless it ended or its group was dropped meanwhile. */
    private void pass(TrackedPod t) {
        try (PodLocks.Held held = locks.hold(t.uid())) {
            if (pods.get(t.uid()) != t
                    || t.state() != PodState.LIVE
                    || dropped.contains(t.view().group())) {
                return;
            }
            try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", t.display())) {
                IngestReport r = t.session().pass();
                if (r != null) {
                    metrics.ingested(r);
                    queueUp(t, r.committed());
                }
            } catch (RuntimeException e) {
                log.warn("ingest failed: {}", e.toString());
            }
        } finally {
            t.endPass();
        }
    }

    /**
     * After a restart: adopts the views of pods in {@code podsOnNode} that still take part, and
     * finishes every other view folder (a final ingest when its record says what it was, then removal).
     */
    public void recover(Collection<Pod> podsOnNode) throws IOException {
        Map<String, Pod> byUid = new HashMap<>();
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
            try (PodLocks.Held held = locks.hold(uid)) {
                recoverLocked(tracked(uid), served(byUid.get(uid)));
            }
        }
    }

    private void recoverLocked(TrackedPod t, PodFacts pod) throws IOException {
        String uid = t.uid();
        PodRecord rec = readRecord(uid);
        Path dir = rec != null ? rec.dir() : viewDir(uid);
        boolean keep = rec != null && rec.keepFolder();
        Recovery r = Recovery.of(rec, pod, Views.isReady(dir), Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS));
        log.debug("recovering pod {}: {}", uid, r);
        switch (r) {
            case ADOPT -> {
                adopt(t, rec, pod.display());
                log.info(
                        "adopted the view of {} after a restart ({} entries pinned)",
                        pod.display(),
                        t.view().entries().size());
            }
            case REPUBLISH -> FileTrees.clearFolder(dir); // nothing of the pod has run: observe() can publish
            case LEAVE -> {} // it runs cold in its folder, or has none yet: only its end is ours to handle
            case FINISH -> {
                adopt(t, rec, "gone:" + uid);
                finishLocked(t);
            }
            case REMOVE -> {
                if (!keep) {
                    FileTrees.deleteTree(dir); // ours; an emptyDir is kubelet's to remove
                }
                Files.deleteIfExists(state.resolve(uid));
            }
        }
    }

    /** NEW to LIVE with the view an earlier run published as {@code rec} says ({@code display}: whom it was for). */
    private void adopt(TrackedPod t, PodRecord rec, String display) throws IOException {
        ViewSession s = ViewSession.adopt(
                views,
                ingester,
                rec.group(),
                rec.dir(),
                rec.frameworks(),
                rec.mode(),
                "pod:" + display,
                rec.keepFolder());
        t.live(display, s, clock.millis());
        track(t);
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
        log.info(
                "CompileCache {}/{} deleted with deletionPolicy Delete: removed {} entries of {}",
                group.namespace(),
                group.cache(),
                n,
                group.text());
        return n;
    }

    /** The CompileCache exists (again): its group takes ingest. */
    public void undrop(GroupId group) {
        dropped.remove(group);
    }

    // ------------------------------------------------------------------ steps (under the pod's lock)

    /** The pod's entry, or a NEW one, held once it moves out of NEW. */
    private TrackedPod tracked(String uid) {
        TrackedPod t = pods.get(uid);
        return t != null ? t : new TrackedPod(uid);
    }

    private void move(TrackedPod t, PodState to) {
        t.moveTo(to, clock.millis());
        track(t);
    }

    /** Holds {@code t} in the map in every state but NEW. */
    private void track(TrackedPod t) {
        if (t.state() == PodState.NEW) {
            pods.remove(t.uid(), t);
        } else {
            pods.put(t.uid(), t);
        }
    }

    /** Its wait step ended before the agent published: it runs cold, counted once. */
    private void runsCold(TrackedPod t, PodFacts pod) {
        log.info("not publishing: the pod's wait step already ended (it runs cold)");
        move(t, PodState.COLD);
        noView(pod, WAIT_GAVE_UP);
    }

    private void refuse(TrackedPod t, String why, Object... args) {
        log.warn("not publishing: " + why, args);
        move(t, PodState.REFUSED);
    }

    private void publishLocked(TrackedPod t, Pod seen) {
        move(t, PodState.PUBLISHING);
        try {
            publishSteps(t, seen);
        } finally {
            if (t.state() == PodState.PUBLISHING) {
                move(t, PodState.NEW); // gone meanwhile, or the publish failed: a later update tries again
            }
        }
    }

    private void publishSteps(TrackedPod t, Pod seen) {
        String uid = t.uid();
        Pod newest =
                latest.apply(seen); // the event may have waited in the queue: the pod could have started cold since
        PodFacts pod = PodFacts.of(newest).orElse(null);
        if (pod == null) {
            return; // gone meanwhile: its delete event finishes it
        }
        if (pod.waitStepEnded()) {
            runsCold(t, pod);
            return;
        }
        GroupId group;
        try {
            group = node.group(pod.namespace(), pod.cache());
        } catch (InvalidNameException e) {
            refuse(t, "{}", e.getMessage());
            return;
        }
        Set<Framework> frameworks = pod.frameworks();
        PodFacts.Access access = pod.access();
        boolean emptyDir = pod.emptyDirMode();
        Path dir = viewDir(pod);
        if (dir == null) {
            refuse(t, "the pod was injected in EmptyDir mode and this agent has no --kubelet-pods");
            return;
        }
        if (emptyDir && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            log.debug("kubelet has not made the pod's emptyDir yet; trying again at the next pass or update");
            t.awaitFolder(newest, clock.millis());
            track(t);
            return;
        }
        if (emptyDir && !kubeletEmptyDir(kubeletPods, uid, dir)) {
            refuse(t, "{} is not the pod's own emptyDir folder (a link on the way, or a malformed uid)", dir);
            return;
        }
        PodRemote r = remote;
        if (r != null) {
            r.beforePublish(pod.namespace(), pod.cache(), group, frameworks); // bounded by the cache's fetch deadline
        }
        try {
            writeRecord(uid, new PodRecord(group, frameworks, access.mode(), dir, emptyDir));
            ViewSession s = ViewSession.publish(
                    views,
                    ingester,
                    group,
                    dir,
                    frameworks,
                    access.owner(),
                    access.mode(),
                    node.cudaDriver(),
                    "pod:" + pod.display(),
                    emptyDir);
            View v = s.view();
            metrics.published(v);
            t.live(pod.display(), s, clock.millis());
            t.note(pod); // Ready already, say, when published late
            track(t);
            log.info(
                    "published {} entries ({} bytes) of {} in {} ms",
                    v.entries().size(),
                    v.bytes(),
                    group.text(),
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

    /** Ends the pod here: a live view's last pass and unpublish; for any other, removal of what is left. */
    private void finishLocked(TrackedPod t) {
        String uid = t.uid();
        if (t.state() != PodState.LIVE) {
            move(t, PodState.DONE);
            forget(uid); // no view (cold, refused, failed): what kubelet or a partial publish left still goes
            return;
        }
        move(t, PodState.FINISHING);
        try (MDC.MDCCloseable ignored = MDC.putCloseable("pod", t.display())) {
            GroupId group = t.view().group();
            ViewSession.Result end = dropped.contains(group)
                    ? t.session().endWithoutIngest()
                    : t.session().end(t.outcome());
            if (end.last() != null) {
                metrics.ingested(end.last());
            }
            queueUp(t, end.last() != null ? end.last().committed() : List.of());
            int read = end.read().size();
            metrics.entriesRead(read);
            metrics.groupActivity(group, read, end.total().entries());
            outcome(t.display(), uid, group, end.why());
            activity.save(metrics);
            log.info(
                    "finished: read {} entries (hits), ingested {} (misses); {}",
                    read,
                    end.total().entries(),
                    end.why().line());
            Files.deleteIfExists(state.resolve(uid));
        } catch (IOException e) {
            log.warn("could not remove the record of {}: {}", uid, e.toString());
        } finally {
            move(t, PodState.DONE);
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

    /** Settled pods an hour after they settled go back to NEW: a stale event of a pod that old cannot arrive any more. */
    private void forgetSettled() {
        long cutoff = clock.millis() - SETTLED_FOR_MS;
        for (TrackedPod t : pods.values()) {
            if (!t.state().settled() || t.since() >= cutoff) {
                continue;
            }
            try (PodLocks.Held held = locks.hold(t.uid())) {
                if (pods.get(t.uid()) == t && t.state().settled() && t.since() < cutoff) {
                    move(t, PodState.NEW);
                }
            }
        }
    }

    // ------------------------------------------------------------------ what a pod is

    /** The pod's facts when this agent serves it (injected, bound here); else null. */
    private PodFacts served(Pod pod) {
        return PodFacts.of(pod).filter(f -> f.takesPart(node.node())).orElse(null);
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

    /** Forgets the tracked pods: an agent stopping is not a pod ending, so views and records stay for the next start. */
    @Override
    public void close() {
        close(System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
    }

    /** As {@link #close()}, letting passes that run end on their own until {@code deadlineNanos}. */
    void close(long deadlineNanos) {
        Drain.executor(passes, deadlineNanos);
        views.close();
        pods.clear();
    }
}
