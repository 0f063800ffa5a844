package io.mithril.agent.cli;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.remote.UploadQueue;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.ByteSize;
import io.mithril.agent.store.NodeStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code exec}'s use of the remote tier: before the command, the local group is filled from the
 * remote under a deadline (then the view is published from the local store as always); after it
 * exits 0, and only then, what it compiled is queued, and the queue (this run's and what earlier
 * runs left) goes up under a time limit. Nothing the remote does fails the command: every failure
 * is one line on stderr, and the local path goes on.
 */
final class RemoteRun implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RemoteRun.class);
    /** How long past its deadline a step may run (one request's timeout) before exec stops waiting for it. */
    private static final Duration GRACE = Duration.ofSeconds(2);

    private final Remote remote;
    private final NodeStore store;
    private final PrintWriter err;
    private final UploadQueue queue;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "mithril-remote");
        t.setDaemon(true);
        return t;
    });
    /** The group's entries after the fill: what the command adds is what is not among them. */
    private final Map<String, List<EntryFile>> before = new HashMap<>();
    /** A step failed or ran out of time: the remote is not asked again in this run (what is queued stays). */
    private boolean down;
    /** Where uploads are counted ({@code serve}); null: nowhere. */
    private volatile AgentMetrics metrics;

    private RemoteRun(Remote remote, NodeStore store, PrintWriter err) {
        this.remote = remote;
        this.store = store;
        this.err = err;
        this.queue = new UploadQueue(store.root());
    }

    /** The remote run for {@code config}, or null when there is none. */
    static RemoteRun open(RemoteConfig config, NodeStore store, PrintWriter err) {
        if (config == null) {
            return null;
        }
        try {
            return new RemoteRun(
                    Remote.open(config.withTimeouts(config.connectTimeout(), Duration.ofSeconds(5), 3)), store, err);
        } catch (RuntimeException e) {
            err.println("mithril: remote " + config.describe() + " unusable (" + message(e) + "); running node-local");
            return null;
        }
    }

    Remote remote() {
        return remote;
    }

    UploadQueue queue() {
        return queue;
    }

    /** Counts what goes up in {@code m} (per group, for /v1/stats and /metrics). */
    void countIn(AgentMetrics m) {
        this.metrics = m;
        m.remoteQueueDropped(queue::dropped);
    }

    /** Brings the remote's entries of {@code group} (of the frameworks served) into the store, for at most {@code deadline}. */
    void fill(GroupId group, Set<Framework> frameworks, Duration deadline) {
        Set<String> tops = new HashSet<>();
        frameworks.forEach(f -> tops.add(top(f.dir())));
        long until = System.nanoTime() + deadline.toNanos();
        Filler.Report r = within(
                "fetch from",
                deadline,
                () -> new Filler(store)
                        .fill(
                                remote.source(),
                                group,
                                e -> tops.contains(top(e.key().name())),
                                until));
        if (r != null && r.rejected() > 0) {
            remote.stats().blobsRejected(r.rejected());
        }
        if (r != null && (r.committed() > 0 || r.incomplete() > 0 || r.rejected() > 0)) {
            err.printf(
                    Locale.ROOT,
                    "mithril: remote %s: fetched %d entries (%s) in %d ms, %d requests%s%s%n",
                    remote.config().describe(),
                    r.committed(),
                    ByteSize.format(r.bytesFetched()),
                    r.nanos() / 1_000_000,
                    remote.source().requests(),
                    r.incomplete() > 0
                            ? "; " + r.incomplete() + " incomplete" + (r.timedOut() ? " at the deadline" : "")
                            : "",
                    r.rejected() > 0
                            ? "; " + r.rejected() + " blobs did not match their address and were dropped"
                            : "");
        }
        int rejected = remote.source().rejectedManifests();
        if (rejected > 0) {
            err.println("mithril: remote " + remote.config().describe() + ": " + rejected
                    + " manifests failed authentication and were ignored");
        }
        for (Entry e : store.entries(group)) {
            before.put(e.key().name(), e.files());
        }
    }

    /**
     * After the command: queues what it added when it succeeded, then uploads the queue for at most
     * {@code limit}; what is left stays queued for the next run.
     */
    void afterRun(GroupId group, boolean succeeded, Duration limit) {
        if (succeeded) {
            try {
                List<EntryKey> added = new ArrayList<>();
                for (Entry e : store.entries(group)) {
                    if (!e.files().equals(before.get(e.key().name()))) {
                        added.add(e.key());
                    }
                }
                queue.add(added);
            } catch (IOException e) {
                err.println("mithril: remote upload queue: " + message(e) + "; nothing queued");
                return;
            }
        }
        upload(limit);
    }

    /** Uploads what is queued for at most {@code limit} ({@code serve}, between its passes), and says what it did. */
    void upload(Duration limit) {
        int queued;
        try {
            queued = queue.snapshot().size();
        } catch (IOException e) {
            err.println("mithril: remote upload queue: " + message(e) + "; nothing uploaded");
            return;
        }
        if (queued == 0) {
            return;
        }
        long until = System.nanoTime() + limit.toNanos();
        Integer up = down
                ? null
                : within(
                        "upload to",
                        limit,
                        () -> remote.uploader().drain(store, queue, until, (g, r) -> {
                            AgentMetrics m = metrics;
                            if (m != null) {
                                m.remoteUploaded(g, r.uploaded(), r.bytes());
                            }
                        }));
        int left = -1;
        try {
            left = queue.snapshot().size();
        } catch (IOException e) {
            log.warn("upload queue unreadable: {}", e.toString());
        }
        if (up != null && (up > 0 || left > 0)) {
            err.printf(
                    Locale.ROOT,
                    "mithril: remote %s: uploaded %d entries%s%n",
                    remote.config().describe(),
                    up,
                    left > 0 ? "; " + left + " stay queued for the next run" : "");
        } else if (up == null && left > 0) {
            err.printf(
                    Locale.ROOT,
                    "mithril: remote %s: %d entries stay queued for the next run%n",
                    remote.config().describe(),
                    left);
        }
        err.flush();
    }

    /** Lets a long-lived agent ask the remote again after a failed step (serve's next pass). */
    void retry() {
        down = false;
    }

    /** Runs a step on the worker and waits at most {@code limit} (and a grace); null when it failed or ran out. */
    private <T> T within(String what, Duration limit, Callable<T> step) {
        Future<T> f = worker.submit(step);
        try {
            return f.get(limit.plus(GRACE).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            down = true;
            err.println("mithril: remote " + what + " " + remote.config().describe() + " did not finish in "
                    + limit.toSeconds() + " s; going on without it");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            down = true;
            err.println("mithril: remote " + what + " " + remote.config().describe() + " failed ("
                    + message(e.getCause()) + "); going on without it");
        }
        return null;
    }

    private static String top(String name) {
        int slash = name.indexOf('/');
        return slash < 0 ? name : name.substring(0, slash);
    }

    private static String message(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl >= 0 ? m.substring(0, nl) : m;
    }

    /** Waits (bounded) for a step still running, so that the store is not closed under it. */
    @Override
    public void close() {
        worker.shutdown();
        try {
            if (!worker.awaitTermination(10, TimeUnit.SECONDS)) { // inside serve's 20 s for a clean close on SIGTERM
                worker.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        remote.close();
    }
}
