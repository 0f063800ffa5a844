package io.mithril.agent.kube;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.UploadQueue;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.RemoteSpec;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The remote tier on a pod's path ({@code serve --kubernetes --remote}). Before a pod's view is
 * published, {@link #beforePublish} fills the local group from the remote for at most the
 * CompileCache's {@code spec.remote.fetchDeadlineSeconds}: whatever is whole by then is committed and
 * published, and a fill cut short by the deadline goes on in the background for the next pod. One
 * fill per group at a time: a pod of a group whose fill is running waits for that one (within its
 * own deadline) instead of fetching again. {@link #produced} queues entries a pod produced for
 * upload (the queue {@code serve} drains in the background); {@link PodVolumes} calls it only for
 * pods that were Ready at least once or ended Succeeded, and never crashed.
 *
 * <p>Never fails a pod: a remote that fails is logged, counted, and not asked again by pods' starts
 * for {@link #BACKOFF}.
 */
final class PodRemote implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PodRemote.class);
    /** After a failed fill, pods' starts do not wait on the remote for this long. */
    static final Duration BACKOFF = Duration.ofSeconds(30);
    /** How long a fill cut short at a pod's deadline goes on in the background. */
    static final Duration BACKGROUND = Duration.ofMinutes(5);

    private final Remote remote;
    private final NodeStore store;
    private final UploadQueue queue;
    private final AgentMetrics metrics;
    /** The spec of CompileCache (namespace, name); null when the agent does not know it. */
    private final BiFunction<String, String, CompileCacheSpec> specs;

    private final LongSupplier nanoTime;
    private final ExecutorService fills = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "mithril-remote-fill");
        t.setDaemon(true);
        return t;
    });
    /** The running fill of each group (guarded by itself). */
    private final Map<GroupId, Future<Filler.Report>> inFlight = new HashMap<>();
    /** Until when (nanoTime) pods' starts do not ask the remote; 0: they do. */
    private volatile long downUntil;

    PodRemote(
            Remote remote,
            NodeStore store,
            UploadQueue queue,
            AgentMetrics metrics,
            BiFunction<String, String, CompileCacheSpec> specs) {
        this(remote, store, queue, metrics, specs, System::nanoTime);
    }

    PodRemote(
            Remote remote,
            NodeStore store,
            UploadQueue queue,
            AgentMetrics metrics,
            BiFunction<String, String, CompileCacheSpec> specs,
            LongSupplier nanoTime) {
        this.remote = remote;
        this.store = store;
        this.queue = queue;
        this.metrics = metrics;
        this.specs = specs;
        this.nanoTime = nanoTime;
    }

    /** Whether CompileCache {@code namespace/cache} uses the remote (its spec.remote.enabled, true when unknown). */
    boolean enabled(String namespace, String cache) {
        return RemoteSpec.enabled(specs.apply(namespace, cache));
    }

    /**
     * Fills {@code group} (the entries of {@code frameworks}) from the remote, waiting at most the
     * CompileCache's fetch deadline. Returns the entries this wait saw committed (0: none, the remote
     * is off for the cache, down, or the fill goes on past the deadline).
     */
    int beforePublish(String namespace, String cache, GroupId group, Set<Framework> frameworks) {
        CompileCacheSpec spec = specs.apply(namespace, cache);
        if (!RemoteSpec.enabled(spec)) {
            return 0;
        }
        long now = nanoTime.getAsLong();
        if (downUntil != 0 && now - downUntil < 0) {
            log.debug(
                    "remote {} failed recently; publishing from the local store only",
                    remote.config().describe());
            return 0;
        }
        Duration deadline = Duration.ofSeconds(RemoteSpec.fetchDeadlineSeconds(spec));
        // the fill stops fetching a little before the deadline, so that committing what came fits in it
        long fillUntil = now + deadline.toNanos() * 4 / 5;
        Future<Filler.Report> f = start(group, frameworks, fillUntil);
        try {
            Filler.Report r = f.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
            return r == null ? 0 : r.committed();
        } catch (TimeoutException e) {
            log.info(
                    "remote {}: the fill of {} goes on past the pod's fetch deadline ({} s); publishing what is local",
                    remote.config().describe(),
                    group.text(),
                    deadline.toSeconds());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            log.warn(
                    "remote {}: the fill of {} failed: {}",
                    remote.config().describe(),
                    group.text(),
                    e.getCause().toString());
        }
        return 0;
    }

    /**
     * Pre-warm (a starting agent, in the background): fills {@code group} until {@code untilNanos}
     * with the entries that still fit in {@code budget} (bytes, taken from as entries are chosen; the
     * group's entries already local count too). Returns the report, or null when a fill of the group
     * was running already (it was waited for).
     */
    Filler.Report prewarm(GroupId group, AtomicLong budget, long untilNanos)
            throws InterruptedException, ExecutionException {
        Predicate<Entry> fits = e -> {
            long size = 0;
            for (EntryFile f : e.files()) {
                size += f.size();
            }
            long left = budget.get();
            return size <= left && budget.compareAndSet(left, left - size);
        };
        Future<Filler.Report> f = null;
        Future<Filler.Report> running;
        synchronized (inFlight) {
            running = inFlight.get(group);
            if (running == null || running.isDone()) {
                f = fills.submit(() -> fill(group, fits, untilNanos, false));
                inFlight.put(group, f); // pods' starts of the group join this fill meanwhile
            }
        }
        if (f != null) {
            return f.get(); // waited outside the lock: other groups' starts go on
        }
        running.get();
        return null;
    }

    /** Queues entries {@code names} of {@code group} for upload. */
    void produced(GroupId group, Collection<String> names) {
        if (names.isEmpty()) {
            return;
        }
        List<EntryKey> keys = new ArrayList<>();
        for (String n : names) {
            keys.add(new EntryKey(group, n));
        }
        try {
            queue.add(keys);
            log.info(
                    "queued {} entries of {} for upload to {}",
                    keys.size(),
                    group.text(),
                    remote.config().describe());
        } catch (IOException | RuntimeException e) {
            log.warn("remote upload queue: {}; {} entries of {} not queued", e.toString(), keys.size(), group.text());
        }
    }

    /** The group's running fill, or a new one of the entries of {@code frameworks}. */
    private Future<Filler.Report> start(GroupId group, Set<Framework> frameworks, long untilNanos) {
        synchronized (inFlight) {
            Future<Filler.Report> running = inFlight.get(group);
            if (running != null && !running.isDone()) {
                return running;
            }
            Future<Filler.Report> f = fills.submit(() -> fill(group, wanted(frameworks), untilNanos, true));
            inFlight.put(group, f);
            return f;
        }
    }

    /** One fill; {@code goOn}: when the deadline cuts it short, the rest follows in the background (once). */
    private Filler.Report fill(GroupId group, Predicate<Entry> wanted, long untilNanos, boolean goOn)
            throws IOException {
        Filler.Report r;
        try {
            r = new Filler(store, nanoTime).fill(remote.source(), group, wanted, untilNanos);
        } catch (IOException | RuntimeException e) {
            downUntil = nanoTime.getAsLong() + BACKOFF.toNanos();
            throw e;
        }
        metrics.remoteFetched(group, r.committed(), r.bytesFetched(), r.rejected(), r.nanos());
        if (r.committed() > 0 || r.incomplete() > 0) {
            log.info(
                    "remote {}: fetched {} entries ({} bytes) of {} in {} ms{}",
                    remote.config().describe(),
                    r.committed(),
                    r.bytesFetched(),
                    group.text(),
                    r.nanos() / 1_000_000,
                    r.incomplete() > 0
                            ? "; " + r.incomplete() + " incomplete" + (r.timedOut() ? " at the deadline" : "")
                            : "");
        }
        if (r.timedOut() && goOn) {
            long more = nanoTime.getAsLong() + BACKGROUND.toNanos();
            synchronized (inFlight) { // the rest in the background, for the next pod
                inFlight.put(group, fills.submit(() -> fill(group, wanted, more, false)));
            }
        }
        return r;
    }

    private static Predicate<Entry> wanted(Set<Framework> frameworks) {
        Set<String> tops = new HashSet<>();
        frameworks.forEach(f -> tops.add(top(f.dir())));
        return e -> tops.contains(top(e.key().name()));
    }

    private static String top(String name) {
        int slash = name.indexOf('/');
        return slash < 0 ? name : name.substring(0, slash);
    }

    @Override
    public void close() {
        fills.shutdownNow();
    }
}
