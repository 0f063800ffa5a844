package io.mithril.agent.exec;

import io.mithril.agent.diagnosis.Diagnoser;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.fs.NodeRoot;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.ingest.Pass;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.ByteSize;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.volume.FileTrees;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.ViewSession;
import io.mithril.agent.volume.Views;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code mithril-agent exec}: the standalone data path. Publishes a view of this machine's group,
 * runs the command with the cache variables pointing into it, ingests while it runs and when it
 * ends, unpublishes, and returns the command's exit code.
 *
 * <p>The view lives at one canonical path per group ({@code <root>/views/<group>}) when no other
 * {@code exec} holds it, because Triton and vLLM record absolute paths and miss elsewhere; a
 * concurrent {@code exec} of the same group gets a private path beside it (Inductor entries still
 * hit there: they are relocatable).
 */
public final class ExecRunner {

    private static final Logger log = LoggerFactory.getLogger(ExecRunner.class);

    /**
     * @param cudaDriver the CUDA driver's version: the CUDA JIT cache's entries are served only to the
     *                   driver that made them (a driver upgrade invalidates them)
     */
    public record Options(
            GroupId group,
            Set<Framework> frameworks,
            List<String> command,
            Duration ingestInterval,
            IngestLimits limits,
            Map<String, String> environment,
            CudaDriver cudaDriver) {
        public Options {
            cudaDriver = cudaDriver == null ? CudaDriver.UNKNOWN : cudaDriver;
        }

        public Options(
                GroupId group,
                Set<Framework> frameworks,
                List<String> command,
                Duration ingestInterval,
                IngestLimits limits,
                Map<String, String> environment,
                String cudaDriver) {
            this(group, frameworks, command, ingestInterval, limits, environment, CudaDriver.of(cudaDriver));
        }
    }

    /**
     * The CUDA driver's own limit on its JIT cache (CUDA_CACHE_MAXSIZE, bytes): the largest it accepts,
     * so that it does not evict what Mithril served. Set only when the user has not set it.
     */
    static final String CUDA_CACHE_MAXSIZE = "4294967296";

    /**
     * How a run ended: the command's exit status, the summary line, and for the group's counts the
     * entries the run read (hits) and ingested (misses) and why it was warm or not.
     */
    public record Result(int exitCode, String summary, int read, int ingested, Diagnoser.Diagnosis why) {}

    /**
     * Where the command runs: in this process's child ({@link #LOCAL}), or in the {@code exec} client
     * that asked a resident agent for the run (docs/volumes.md, "exec through a resident agent").
     */
    public interface Child {
        /**
         * Runs {@code command} with exactly {@code env} to its end and returns its exit status.
         *
         * @throws IllegalArgumentException when the command cannot be started (its message says why)
         * @throws CallerGoneException when the process that runs the command went away first
         */
        int run(List<String> command, Map<String, String> env) throws IOException, InterruptedException;
    }

    /** The {@code exec} that asked for a run went away (killed) before it reported its command's status. */
    public static final class CallerGoneException extends IOException {
        public CallerGoneException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A child of this process, with its standard streams and the signals this process gets. */
    public static final Child LOCAL = new Child() {
        @Override
        public int run(List<String> command, Map<String, String> env) throws InterruptedException {
            Process child;
            try {
                child = SignalForwarder.start(command, env);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot run " + command.get(0) + ": " + e.getMessage());
            }
            try {
                return child.waitFor();
            } finally {
                SignalForwarder.stop();
            }
        }
    };

    /**
     * The view lock files this process has a channel open on. Closing any channel on a file drops every
     * POSIX lock the process holds on it (fcntl locks belong to the process, not the channel), so a run
     * of a resident agent that opened and closed a second channel on another run's lock would hand that
     * view to the next process. A file here is never opened a second time.
     */
    private static final Set<Path> OPEN_LOCKS = ConcurrentHashMap.newKeySet();

    /** A private view's name: the group's base, a dot, and its run's UUID. */
    private static final Pattern PRIVATE_VIEW = Pattern.compile(".*\\.[0-9a-f-]{36}");

    private final NodeStore store;
    private final PrintWriter err;
    private final Child child;
    /** Why the last publish failed, for the summary. */
    private String publishFailure;

    public ExecRunner(NodeStore store, PrintWriter err) {
        this(store, err, LOCAL);
    }

    public ExecRunner(NodeStore store, PrintWriter err, Child child) {
        this.store = store;
        this.err = err;
        this.child = child;
    }

    public Result run(Options o) throws IOException, InterruptedException {
        Path views = Files.createDirectories(NodeRoot.views(store.root()));
        String base = o.group().text().replace('/', '.');
        sweepDeadViews(views);
        Path lockFile = views.resolve(base + ".lock");
        FileChannel lockCh = null;
        FileLock canonical = null;
        if (OPEN_LOCKS.add(lockFile)) {
            lockCh = openLock(lockFile);
            canonical = lockCh.tryLock();
        } // else a run of this process holds it
        if (canonical != null && RunToken.alive(RunToken.read(views.resolve(base + ".run")))) {
            // an earlier run was killed but what it started still writes there: leave that folder to it
            err.println("mithril: processes of an earlier run still write into " + views.resolve(base)
                    + "; using a private view");
            canonical.release();
            canonical = null;
        }
        if (canonical == null) {
            // the canonical view is taken: a private one, with a lock of its own so a later run can tell it is live
            if (lockCh != null) {
                lockCh.close();
                OPEN_LOCKS.remove(lockFile);
            }
            String name = base + "." + UUID.randomUUID();
            lockFile = views.resolve(name + ".lock");
            OPEN_LOCKS.add(lockFile);
            lockCh = openLock(lockFile);
            lockCh.lock();
            base = name;
        }
        Path dir = views.resolve(base);
        Path runFile = views.resolve(base + ".run");
        String token = RunToken.create();
        Views v = new Views(store);
        Ingester ingester = new Ingester(store, o.limits());
        ScheduledExecutorService periodic = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mithril-periodic-ingest");
            t.setDaemon(true);
            return t;
        });
        boolean orphans = false;
        try {
            String source = "exec:" + String.join(" ", o.command()).replaceAll("\\p{Cntrl}", "?");
            if (source.length() > 200) {
                source = source.substring(0, 200);
            }
            ViewSession session = publishOrNull(v, ingester, o, dir, runFile, token, source);
            Path cacheDir = session != null ? dir : emptyView(views, base, o.frameworks());
            int code;
            try {
                code = runChild(o, cacheDir, session, periodic, token);
            } catch (CallerGoneException e) {
                // as if that exec had been killed: its command's status is unknown, so a failed run's rules;
                // what it started and still runs keeps its folder
                orphans = RunToken.alive(token);
                if (session != null && !orphans) {
                    session.end(Pass.FAILED);
                }
                throw e;
            } finally {
                periodic.shutdown();
                periodic.awaitTermination(1, TimeUnit.MINUTES);
            }
            if (session == null) {
                try {
                    FileTrees.deleteTree(cacheDir);
                } catch (IOException e) {
                    log.warn("could not remove the empty cache folders {}: {}", cacheDir, describe(e));
                }
                Diagnoser.Diagnosis why = Diagnoser.noView(publishFailure);
                return new Result(
                        code, summary(o.group(), null, 0, ViewSession.Totals.NONE) + "; " + why.line(), 0, 0, why);
            }
            // The command's status is the result from here on: a failure of ours is reported, not returned.
            orphans = RunToken.alive(token);
            ViewSession.Result end =
                    session.end(code != 0 ? Pass.FAILED : orphans ? Pass.SUCCEEDED_WRITERS_LEFT : Pass.SUCCEEDED);
            for (String failure : end.failures()) {
                err.println("mithril: " + failure);
            }
            if (child != LOCAL) {
                // this process's log lines name them where exec runs itself; a resident agent's log is not the user's
                for (String refusal : end.total().refusals()) {
                    err.println("mithril: ingest refused " + refusal);
                }
            }
            return new Result(
                    code,
                    summary(o.group(), end.view(), end.read().size(), end.total()) + "; "
                            + end.why().line(),
                    end.read().size(),
                    end.total().entries(),
                    end.why());
        } finally {
            periodic.shutdownNow();
            ingester.close();
            v.close();
            if (!orphans) {
                Files.deleteIfExists(runFile);
            } // else the next run finds the token and leaves the folder to those processes
            if (canonical == null && !orphans) {
                Files.deleteIfExists(lockFile); // a private view's lock: unique, remove it while held
            } // a canonical lock file stays: deleting it could let two runs lock two different inodes of one name
            lockCh.close(); // releases the view's lock
            OPEN_LOCKS.remove(lockFile);
        }
    }

    /**
     * Clears what a killed run left in the folder and publishes the group there; null if that fails
     * for any reason (the command then runs cold, and says so: a cache never keeps it from running).
     */
    private ViewSession publishOrNull(
            Views v, Ingester ingester, Options o, Path dir, Path runFile, String token, String source) {
        publishFailure = null;
        try {
            FileTrees.deleteTree(dir); // a previous exec that was killed may have left it
            Files.writeString(runFile, token + "\n");
            return ViewSession.publish(
                    v,
                    ingester,
                    o.group(),
                    dir,
                    o.frameworks(),
                    Views.Owner.CURRENT,
                    PublishMode.COPY,
                    o.cudaDriver(),
                    source,
                    false);
        } catch (IOException | RuntimeException | StackOverflowError e) {
            publishFailure = describe(e);
            err.println(
                    "mithril: could not publish the cache (" + describe(e) + "); the command runs with an empty one");
            log.warn("publish failed: {}", describe(e));
            return null;
        }
    }

    private static String describe(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** A fresh, empty folder per framework for a command whose view could not be published. */
    private static Path emptyView(Path views, String base, Set<Framework> frameworks) throws IOException {
        Path d = Files.createDirectory(views.resolve(base + ".empty." + UUID.randomUUID()));
        for (Framework f : frameworks) {
            Files.createDirectory(d.resolve(f.dir()));
        }
        return d;
    }

    private int runChild(Options o, Path cacheDir, ViewSession session, ScheduledExecutorService periodic, String token)
            throws IOException, InterruptedException {
        Map<String, String> env = new HashMap<>(o.environment());
        env.put(RunToken.ENV, token);
        for (Framework f : o.frameworks()) {
            Path folder = cacheDir.resolve(f == Framework.CUDA ? o.cudaDriver().folder() : f.dir());
            String mine = folder.toString();
            String theirs = o.environment().get(f.envVar());
            if (theirs != null && !theirs.isEmpty() && !theirs.equals(mine)) {
                err.printf(
                        "mithril: %s is already set to %s; leaving it (that cache is not shared)%n",
                        f.envVar(), theirs);
                continue;
            }
            env.put(f.envVar(), mine);
            if (f == Framework.CUDA) {
                try {
                    Files.createDirectories(folder);
                } catch (IOException e) {
                    err.println("mithril: could not create " + folder + ": " + describe(e));
                }
                env.putIfAbsent("CUDA_CACHE_MAXSIZE", CUDA_CACHE_MAXSIZE);
            }
        }
        err.flush();
        if (session != null) {
            long every = o.ingestInterval().toMillis();
            periodic.scheduleWithFixedDelay(
                    () -> {
                        try {
                            session.pass();
                        } catch (RuntimeException e) {
                            log.warn("periodic ingest failed: {}", e.toString());
                        }
                    },
                    every,
                    every,
                    TimeUnit.MILLISECONDS);
        }
        return child.run(o.command(), env);
    }

    /** A channel on a view's lock file, which {@link #OPEN_LOCKS} already holds (and loses again if it cannot be opened). */
    private static FileChannel openLock(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException | RuntimeException e) {
            OPEN_LOCKS.remove(file);
            throw e;
        }
    }

    /** Removes private views whose exec died (their lock is free): their links would pin evicted blobs' disk space. */
    private static void sweepDeadViews(Path views) {
        try (var ds = Files.newDirectoryStream(views, "*.lock")) {
            for (Path lock : ds) {
                String name = lock.getFileName().toString();
                String viewName = name.substring(0, name.length() - ".lock".length());
                if (!PRIVATE_VIEW.matcher(viewName).matches()) {
                    continue; // canonical views are reused (and cleared) by their next exec
                }
                if (!OPEN_LOCKS.add(lock)) {
                    continue; // a run of this process holds it
                }
                try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
                    FileLock l = ch.tryLock();
                    if (l != null && !RunToken.alive(RunToken.read(views.resolve(viewName + ".run")))) {
                        FileTrees.deleteTree(views.resolve(viewName));
                        Files.deleteIfExists(views.resolve(viewName + ".run"));
                        Files.deleteIfExists(lock);
                    }
                    if (l != null) {
                        l.release();
                    }
                } catch (IOException | OverlappingFileLockException e) {
                    // live, or gone meanwhile
                } finally {
                    OPEN_LOCKS.remove(lock);
                }
            }
        } catch (IOException e) {
            log.warn("could not sweep dead views: {}", e.toString());
        }
    }

    static String summary(GroupId g, View view, int hits, ViewSession.Totals t) {
        return String.format(
                Locale.ROOT,
                "mithril: %s: restored %d entries (%s) in %d ms; read %d entries (hits); ingested %d entries (%s, misses) in %d ms; refused %d files",
                g.text(),
                view == null ? 0 : view.entries().size(),
                ByteSize.format(view == null ? 0 : view.bytes()),
                view == null ? 0 : view.publishNanos() / 1_000_000,
                hits,
                t.entries(),
                ByteSize.format(t.bytes()),
                t.nanos() / 1_000_000,
                t.refused());
    }
}
