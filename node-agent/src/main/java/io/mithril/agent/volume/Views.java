package io.mithril.agent.volume;

import io.mithril.agent.cas.Address;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.EntryRules;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.framework.NinjaLog;
import io.mithril.agent.fs.FileNames;
import io.mithril.agent.fs.UntrustedFiles;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.Pin;
import io.mithril.api.v1alpha1.Injected;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The view lifecycle (the NodePublishVolume / NodeUnpublishVolume of this CSI-like design).
 *
 * <p><b>Publish</b>: pin the group's entries, materialize them under the view directory in the layout
 * the frameworks expect ({@code inductor/}, {@code triton/}, ...), hand the directories to the
 * workload's uid/gid, arm the use probe on every file, and last write the ready marker
 * {@code .mithril-ready} (temp + rename), so a marker means a whole view. A view is only published
 * into an empty, real folder: anything already there (a view, or what a workload that started
 * wrote, links included) makes publish refuse rather than write through it.
 *
 * <p><b>Use probe</b>: Linux's default {@code relatime} updates a file's atime on the first read after
 * its atime was set at or below its mtime. Publishing sets atime = mtime - 1 s on each file; reading it
 * back after the workload ran tells which entries were read. Linked files share their inode with the
 * blob and with other views; before re-arming such a file the tracker records a read that happened
 * since the last arming, so a view published later does not erase an earlier view's reads.
 *
 * <p><b>Unpublish</b>: read back uses, check linked files were not modified, unpin, delete the tree
 * (never following a link).
 */
public final class Views implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Views.class);
    public static final String MARKER = Injected.READY_MARKER;

    /**
     * The workload's user and group; null fields mean "leave as created". {@code anyone}: the
     * workload's user is not known (a container image's own USER), so the view's folders and copied
     * files are made writable by every user; the view is private to one pod, so that is its only user.
     */
    public record Owner(Integer uid, Integer gid, boolean anyone) {
        public static final Owner CURRENT = new Owner(null, null);
        public static final Owner ANYONE = new Owner(null, null, true);

        public Owner(Integer uid, Integer gid) {
            this(uid, gid, false);
        }
    }

    private final NodeStore store;
    private final Clock clock;
    private final UseProbe probe = new UseProbe();

    public Views(NodeStore store) {
        this(store, Clock.systemUTC());
    }

    /** {@code clock}: the time a view counts as published from (the use probe compares access times to it). */
    public Views(NodeStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    NodeStore store() {
        return store;
    }

    /** Publishes the group's current entries of the given frameworks into {@code dir}. */
    public View publish(GroupId group, Path dir, Set<Framework> frameworks, Owner owner, PublishMode mode)
            throws IOException {
        return publish(group, dir, frameworks, owner, mode, name -> true, null);
    }

    /**
     * As {@link #publish(GroupId, Path, Set, Owner, PublishMode)}, for a workload running on CUDA
     * driver {@code cuda}: of the CUDA JIT cache only that driver's entries, and the view gets the
     * driver's folder and the {@link CudaDriver#CURRENT} link to it.
     */
    public View publish(
            GroupId group, Path dir, Set<Framework> frameworks, Owner owner, PublishMode mode, CudaDriver cuda)
            throws IOException {
        return publish(
                group, dir, frameworks, owner, mode, cuda::serves, frameworks.contains(Framework.CUDA) ? cuda : null);
    }

    private View publish(
            GroupId group,
            Path dir,
            Set<Framework> frameworks,
            Owner owner,
            PublishMode mode,
            Predicate<String> serve,
            CudaDriver cuda)
            throws IOException {
        long t0 = System.nanoTime();
        store.sync();
        long now = clock.millis();
        requireEmptyFolder(dir);
        NodeStore.Pinned pinned = store.pinGroup(
                group, e -> ofFrameworks(e, frameworks) && serve.test(e.key().name()));
        List<Entry> entries = pinned.entries();
        List<EntryKey> keys = new ArrayList<>(entries.size());
        entries.forEach(e -> keys.add(e.key()));
        Pin pin = pinned.pin();
        Map<String, View.Published> files = new ConcurrentHashMap<>();
        LongAdder bytes = new LongAdder();
        try {
            for (Framework f : frameworks) {
                Files.createDirectory(dir.resolve(f.dir())); // never through a link: the folder was empty a moment ago
            }
            Map<Path, Boolean> made = new ConcurrentHashMap<>();
            // Linking is system calls on many directories: a few threads overlap them (measured in
            // docs/benchmarks.md). Entries are independent; a folder is created once via `made`.
            List<Callable<Void>> work = new ArrayList<>(entries.size());
            for (Entry e : entries) {
                work.add(() -> {
                    boolean linkable = mode == PublishMode.LINK && !isMutable(e);
                    Map<String, FileTime> times = EntryRules.keepsTimes(e.key().name()) ? ninjaTimes(e) : null;
                    for (EntryFile f : e.files()) {
                        String rel = EntryPaths.of(e, f);
                        // an executable file is a copy: a link has the blob's mode, and the store keeps one blob per
                        // content
                        boolean link =
                                linkable && !EntryRules.rewrittenInPlace(rel) && times == null && !f.executable();
                        Path target = FileNames.resolve(dir, rel);
                        Path parent = target.getParent();
                        made.computeIfAbsent(
                                parent,
                                d -> { // others wait until it exists
                                    try {
                                        Files.createDirectories(d);
                                        return Boolean.TRUE;
                                    } catch (IOException ex) {
                                        throw new UncheckedIOException(ex);
                                    }
                                });
                        BasicFileAttributes a =
                                materialize(f, target, link, times == null ? null : times.get(f.path()));
                        files.put(
                                rel,
                                new View.Published(
                                        e.key(),
                                        f.address(),
                                        f.size(),
                                        f.executable(),
                                        link,
                                        a.fileKey(),
                                        a.lastModifiedTime().toMillis(),
                                        false));
                        bytes.add(f.size());
                    }
                    return null;
                });
            }
            runAll(work);
            if (cuda != null) {
                cuda.prepare(dir);
            }
            chownTree(dir, owner);
            writeMarker(dir, entries.size(), bytes.sum());
        } catch (IOException | RuntimeException ex) {
            pin.close();
            throw ex;
        }
        return new View(
                dir,
                group,
                frameworks,
                now,
                mode,
                files,
                keys,
                bytes.sum(),
                System.nanoTime() - t0,
                pin,
                workloadUid(owner, dir));
    }

    /**
     * A view is only ever published into an empty, real folder (created here if missing). Anything
     * already there was put there by the workload (its wait step ended and it started), and every
     * path below it could be a link to somewhere else: publishing then could write through it, so
     * the view is refused and the workload runs cold.
     */
    static void requireEmptyFolder(Path dir) throws IOException {
        Files.createDirectories(dir.getParent());
        try {
            Files.createDirectory(dir);
            return;
        } catch (FileAlreadyExistsException exists) {
            // kubelet made it (subPathExpr, emptyDir), or the workload did something
        }
        BasicFileAttributes a = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isDirectory()) {
            throw new ViewRefusedException(dir + " is not a folder (a link or a file); not publishing there");
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            if (ds.iterator().hasNext()) {
                throw new ViewRefusedException(dir + " is not empty: the workload has started; not publishing there");
            }
        }
    }

    /** A view folder that cannot be published into safely. */
    public static final class ViewRefusedException extends IOException {
        public ViewRefusedException(String message) {
            super(message);
        }
    }

    private static boolean ofFrameworks(Entry e, Set<Framework> frameworks) {
        String n = e.key().name();
        Framework fw = Framework.ofDir(n.substring(0, n.indexOf('/')));
        return fw != null && frameworks.contains(fw);
    }

    /**
     * Takes over a view that an earlier run of this agent published (after a restart): pins the
     * group's entries again and records as published the files that still are the store's blobs
     * (links sharing the blob's inode) or the copies the publish wrote (the entry's size, written no
     * later than the marker: the workload only starts after it). Everything else in the folder is
     * left to the next ingest, which hashes it and keeps only what is new. The view's publish time is
     * its marker's.
     */
    public View adopt(GroupId group, Path dir, Set<Framework> frameworks, PublishMode mode) throws IOException {
        long publishedAt;
        try {
            publishedAt = Files.getLastModifiedTime(dir.resolve(MARKER), LinkOption.NOFOLLOW_LINKS)
                    .toMillis();
        } catch (IOException e) {
            publishedAt = clock.millis();
        }
        NodeStore.Pinned pinned = store.pinGroup(group, e -> ofFrameworks(e, frameworks));
        Map<String, View.Published> files = new HashMap<>();
        List<EntryKey> keys = new ArrayList<>();
        long bytes = 0;
        for (Entry e : pinned.entries()) {
            keys.add(e.key());
            for (EntryFile f : e.files()) {
                String rel = EntryPaths.of(e, f);
                try {
                    BasicFileAttributes a = Files.readAttributes(
                            FileNames.resolve(dir, rel), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (!a.isRegularFile()) {
                        continue;
                    }
                    Object blobKey = Files.readAttributes(store.blobPath(f.address()), BasicFileAttributes.class)
                            .fileKey();
                    boolean linked = a.fileKey() != null && a.fileKey().equals(blobKey);
                    long mtime = a.lastModifiedTime().toMillis();
                    if (linked) {
                        // the blob itself: if it looks written since publishing, record it as it should be
                        // (size, an impossible mtime), so the next ingest or unpublish re-checks the blob
                        boolean touched = a.size() != f.size() || mtime > publishedAt;
                        files.put(
                                rel,
                                new View.Published(
                                        e.key(),
                                        f.address(),
                                        f.size(),
                                        f.executable(),
                                        true,
                                        a.fileKey(),
                                        touched ? -1 : mtime,
                                        false));
                        bytes += f.size();
                    } else if (a.size() == f.size() && mtime <= publishedAt) {
                        // a copy the workload did not touch: written by the publish, so not after the marker
                        files.put(
                                rel,
                                new View.Published(
                                        e.key(),
                                        f.address(),
                                        f.size(),
                                        f.executable(),
                                        false,
                                        a.fileKey(),
                                        mtime,
                                        false));
                        bytes += f.size();
                    }
                } catch (IOException gone) {
                    // not there (or not ours any more): the next ingest decides
                }
            }
        }
        Integer uid = null;
        try {
            if (!Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS)
                    .contains(PosixFilePermission.OTHERS_WRITE)) {
                uid = (Integer) Files.getAttribute(
                        dir, "unix:uid", LinkOption.NOFOLLOW_LINKS); // handed to the workload at publish
            }
        } catch (IOException gone) {
            // the next ingest finds nothing either
        }
        return new View(dir, group, frameworks, publishedAt, mode, files, keys, bytes, 0, pinned.pin(), uid);
    }

    private static final int PUBLISH_THREADS = 4;
    /** Publish threads; idle ones end after a while, so a Views nobody closes holds none for long. */
    private final ThreadPoolExecutor linkers = new ThreadPoolExecutor(
            PUBLISH_THREADS, PUBLISH_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "mithril-publish");
                t.setDaemon(true);
                return t;
            });

    {
        linkers.allowCoreThreadTimeOut(true);
    }

    /** Stops the publish threads (PodVolumes and exec close theirs). */
    @Override
    public void close() {
        linkers.shutdownNow();
    }

    /**
     * Runs tasks on the publish pool, in chunks; rethrows the first failure. Small views run on the
     * caller's thread: below a few thousand files the hand-off costs more than it overlaps.
     */
    private void runAll(List<Callable<Void>> work) throws IOException {
        if (work.size() < 1000) {
            try {
                for (Callable<Void> c : work) {
                    c.call();
                }
            } catch (UncheckedIOException e) {
                throw e.getCause();
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
            return;
        }
        int chunk = Math.max(1, work.size() / (PUBLISH_THREADS * 8));
        List<Future<Void>> futures = new ArrayList<>();
        for (int i = 0; i < work.size(); i += chunk) {
            List<Callable<Void>> part = work.subList(i, Math.min(work.size(), i + chunk));
            futures.add(linkers.submit(() -> {
                for (Callable<Void> c : part) {
                    c.call();
                }
                return null;
            }));
        }
        IOException first = null;
        for (Future<Void> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while publishing", e);
            } catch (ExecutionException e) {
                Throwable c = e.getCause() instanceof UncheckedIOException u ? u.getCause() : e.getCause();
                if (first == null) {
                    first = c instanceof IOException io ? io : new IOException(c);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * The user a view's workload runs as: the owner's uid, the agent's own for {@link Owner#CURRENT}
     * (the folder was just made by this process), none when any user may be the workload's.
     */
    private static Integer workloadUid(Owner owner, Path dir) throws IOException {
        if (owner.anyone()) {
            return null;
        }
        if (owner.uid() != null) {
            return owner.uid();
        }
        return (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    private static boolean isMutable(Entry e) {
        String n = e.key().name();
        EntryRules.Unit u =
                EntryRules.classify(EntryPaths.of(n, e.files().get(0).path()));
        return u != null && u.mutable();
    }

    /**
     * The times a FlashInfer unit's copies get, from its ninja log ({@link NinjaLog}): copies are
     * otherwise as new as the publish, and ninja would rebuild everything.
     */
    private Map<String, FileTime> ninjaTimes(Entry e) throws IOException {
        byte[] log = null;
        List<String> paths = new ArrayList<>();
        for (EntryFile f : e.files()) {
            paths.add(f.path());
            if (f.path().equals(".ninja_log")) {
                try (InputStream in = UntrustedFiles.openNoAtime(store.blobPath(f.address()))) {
                    log = in.readNBytes(64 << 20);
                }
            }
        }
        return NinjaLog.publishTimes(e.key().name(), paths, log);
    }

    /**
     * Links or copies one file into place, arms its use probe, and returns its attributes. A copy
     * gets {@code copyTime} as its mtime when not null (a link shares the blob's inode and keeps the blob's).
     */
    private BasicFileAttributes materialize(EntryFile f, Path target, boolean link, FileTime copyTime)
            throws IOException {
        Path blob = store.blobPath(f.address());
        if (link) {
            try {
                Files.createLink(target, blob);
            } catch (FileAlreadyExistsException e) {
                Files.delete(target);
                Files.createLink(target, blob);
            } catch (FileSystemException e) {
                if (e.getMessage() == null || !e.getMessage().contains("cross-device")) {
                    throw e;
                }
                return materialize(
                        f, target, false, null); // the view is on another filesystem (kubelet's folder): a copy
            }
            BasicFileAttributes attrs =
                    Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            probe.armLinked(target, f.address(), attrs);
            return attrs;
        }
        UseProbe.copyUnread(blob, target);
        Files.setPosixFilePermissions(
                target, PosixFilePermissions.fromString(f.executable() ? "rwxr-xr-x" : "rw-r--r--"));
        if (copyTime != null) {
            Files.getFileAttributeView(target, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(copyTime, null, null);
        }
        BasicFileAttributes attrs = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        UseProbe.arm(target, attrs.lastModifiedTime().toMillis());
        return attrs;
    }

    private static void chownTree(Path dir, Owner owner) throws IOException {
        if (owner.uid() == null && owner.gid() == null && !owner.anyone()) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                chown(d, owner);
                if (owner.anyone()) {
                    Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                if (attrs.isSymbolicLink()) {
                    chown(f, owner); // the agent's cuda/current; a mode change would go to its target
                    return FileVisitResult.CONTINUE;
                }
                if ((Integer) Files.getAttribute(f, "unix:nlink", LinkOption.NOFOLLOW_LINKS) == 1) {
                    chown(f, owner); // copies belong to the workload; links stay the store's
                    if (owner.anyone()) {
                        var perms = Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS);
                        perms.add(PosixFilePermission.GROUP_WRITE);
                        perms.add(PosixFilePermission.OTHERS_WRITE);
                        Files.setPosixFilePermissions(f, perms);
                    }
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void chown(Path p, Owner owner) throws IOException {
        if (owner.uid() != null) {
            Files.setAttribute(p, "unix:uid", owner.uid(), LinkOption.NOFOLLOW_LINKS);
        }
        if (owner.gid() != null) {
            Files.setAttribute(p, "unix:gid", owner.gid(), LinkOption.NOFOLLOW_LINKS);
        }
    }

    private static void writeMarker(Path dir, int entries, long bytes) throws IOException {
        Path tmp = dir.resolve(MARKER + ".tmp");
        Files.writeString(tmp, "{\"entries\":" + entries + ",\"bytes\":" + bytes + "}\n");
        Files.move(tmp, dir.resolve(MARKER), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static boolean isReady(Path dir) {
        return Files.isRegularFile(dir.resolve(MARKER), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The published entries the workload read since publishing: any of an entry's files has an atime
     * after the view was published, or (for a shared inode) a read recorded before a later re-arming.
     */
    public Set<EntryKey> readEntries(View v) {
        return probe.readEntries(v);
    }

    /**
     * Ends a view: records the entries it read as used, checks its linked files were not written in
     * place (re-hashing any whose mtime or size moved, so a damaged blob is quarantined rather than
     * served; ctime cannot be used, other views' use probes change it),
     * unpins, and deletes the directory without following links.
     */
    public Set<EntryKey> unpublish(View v) throws IOException {
        return unpublish(v, false);
    }

    /** As {@link #unpublish(View)}; {@code keepFolder}: empty the folder but leave it (it is kubelet's emptyDir). */
    public Set<EntryKey> unpublish(View v, boolean keepFolder) throws IOException {
        Set<EntryKey> used = readEntries(v);
        for (EntryKey k : used) {
            store.recordUse(k);
        }
        checkLinked(v);
        try {
            if (keepFolder) {
                FileTrees.clearFolder(v.dir());
            } else {
                removeView(v.dir());
            }
        } finally {
            v.pin().close();
        }
        store.sync();
        return used;
    }

    private void checkLinked(View v) {
        Set<Address> suspects = new HashSet<>();
        for (Map.Entry<String, View.Published> f : v.files().entrySet()) {
            View.Published p = f.getValue();
            if (!p.linked()) {
                continue;
            }
            try {
                BasicFileAttributes a = Files.readAttributes(
                        FileNames.resolve(v.dir(), f.getKey()), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (Objects.equals(a.fileKey(), p.fileKey())
                        && (a.lastModifiedTime().toMillis() != p.mtimeMillis() || a.size() != p.size())) {
                    suspects.add(p.address());
                }
            } catch (IOException gone) {
                // unlinked or replaced by rename: the blob was not touched
            }
        }
        store.recheck(suspects);
    }

    /**
     * Removes a view's directory. A process the workload left behind may still be writing into it;
     * then a few retries, and if it still will not go, a warning: the view is left for the next start
     * (the agent's own work, ingest and unpin, is done either way).
     */
    static void removeView(Path dir) {
        for (int attempt = 0; ; attempt++) {
            try {
                FileTrees.deleteTree(dir);
                return;
            } catch (IOException e) {
                if (attempt >= 3) {
                    log.warn("could not remove view {} ({}); something still writes into it", dir, e.toString());
                    return;
                }
                try {
                    Thread.sleep(50L << attempt);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
