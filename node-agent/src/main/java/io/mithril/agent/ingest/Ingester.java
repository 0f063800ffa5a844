package io.mithril.agent.ingest;

import io.mithril.agent.cas.Address;
import io.mithril.agent.framework.Completeness;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.framework.EntryRules;
import io.mithril.agent.fs.FileNames;
import io.mithril.agent.fs.UntrustedFiles;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.Names;
import io.mithril.agent.store.BlobMissingException;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFullException;
import io.mithril.agent.volume.View;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes what a workload compiled into its view into the store, so the next view has it.
 *
 * <p>The view was written by an untrusted process and the agent may run as root. Invariants:
 * <ul>
 *   <li>Never follow a symbolic link: the walk does not, files are opened with {@code O_NOFOLLOW},
 *       and a link, FIFO, socket or device is refused at the walk (lstat).</li>
 *   <li>Never block on what the workload put at a path: files are opened with {@code O_NONBLOCK}
 *       through {@code openat2} beneath the view ({@link UntrustedFiles}), checked through the
 *       descriptor to be the regular file the walk saw before a byte is read; a FIFO, a leased file,
 *       a link in any component is refused at once. (Without native access: opens on a reader
 *       thread with a deadline.) Every pass is bounded in nodes walked and in time.</li>
 *   <li>Take only files the workload itself wrote there: one link (never a hard link to an inode
 *       from elsewhere), owned by the workload's user when that is known, readable by others (a
 *       private file stays in its view). The executable bit travels with the file.</li>
 *   <li>Never take what a failed run may have left torn ({@link Pass}).</li>
 *   <li>Never take a file still being written: modified within the settle time (periodic passes),
 *       or a size or mtime that differs before and after the read, or more bytes than lstat said.</li>
 *   <li>Never take a name that could escape or confuse: every path is validated by {@link Names}.</li>
 *   <li>Never take an incomplete unit: a Triton folder must be whole ({@link Completeness}).</li>
 *   <li>Keep going: every refusal is counted by reason and logged; a full store refuses that entry only.</li>
 * </ul>
 * Names are the files' bytes ({@link FileNames}), whatever the locale.
 *
 * <p>Entries: a unit with any new or changed file is committed whole as a new version, reusing the
 * blobs of its unchanged, published files. Provenance records group, source and time.
 */
public final class Ingester implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Ingester.class);
    private static final long OPEN_DEADLINE_MS = 5_000;
    /**
     * A periodic pass that has run this long takes no more units; the rest waits for the next pass
     * (the max-autotune fixture's 296 MB take a few seconds). A last pass has no next one: longer.
     */
    static final long PASS_DEADLINE_MS = 20_000;

    static final long LAST_PASS_DEADLINE_MS = 300_000;

    private final NodeStore store;
    private final IngestLimits limits;
    private final Clock clock;
    private static final int PUT_THREADS = 8;
    private static final int BATCH = 256;
    private final ExecutorService readers = Executors.newFixedThreadPool(PUT_THREADS * 2, r -> {
        Thread t = new Thread(r, "mithril-ingest-reader");
        t.setDaemon(true);
        return t;
    });

    private final ExecutorService putters = Executors.newFixedThreadPool(PUT_THREADS, r -> {
        Thread t = new Thread(r, "mithril-ingest-put");
        t.setDaemon(true);
        return t;
    });

    public Ingester(NodeStore store, IngestLimits limits) {
        this(store, limits, Clock.systemUTC());
    }

    /** {@code clock}: what "settled" is measured against (files' mtimes), and the time provenance records. */
    public Ingester(NodeStore store, IngestLimits limits, Clock clock) {
        this.store = store;
        this.limits = limits;
        this.clock = clock;
    }

    private record Seen(String rel, Path path, long size, long mtime, Object fileKey) {}

    /** One pass over the view. {@code finalPass}: the workload has ended well ({@link Pass#SUCCEEDED}). */
    public IngestReport ingest(View view, String source, boolean finalPass) {
        return ingest(view, source, finalPass ? Pass.SUCCEEDED : Pass.PERIODIC);
    }

    /** One pass over the view; what it may take follows from {@code pass}. */
    public IngestReport ingest(View view, String source, Pass pass) {
        if (pass == Pass.SUCCEEDED_WRITERS_LEFT) {
            settleOnce(); // what was written just before the end is then whole, what still changes is not
        }
        long t0 = System.nanoTime();
        long deadline = t0 + (pass.last() ? LAST_PASS_DEADLINE_MS : PASS_DEADLINE_MS) * 1_000_000;
        IngestReport.Builder r = new IngestReport.Builder();
        Map<String, List<Seen>> units = new LinkedHashMap<>();
        Map<String, EntryRules.Unit> unitInfo = new LinkedHashMap<>();
        Map<String, Boolean> unitChanged = new LinkedHashMap<>();
        Path root = view.dir();
        Set<Address> writtenInPlace = new HashSet<>();
        Set<String> taintedUnits = new HashSet<>();
        int[] examined = {0};
        int[] changedUnits = {0};
        try {
            Files.walkFileTree(root, EnumSet.noneOf(FileVisitOption.class), 64, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) {
                    if (++examined[0] > limits.maxPassNodes()
                            || (examined[0] & 1023) == 0 && System.nanoTime() > deadline) {
                        r.defer("walk limit per pass");
                        return FileVisitResult.TERMINATE;
                    }
                    if (!d.equals(root) && EntryRules.skipsFolder(FileNames.of(root.relativize(d)))) {
                        return FileVisitResult.SKIP_SUBTREE;
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes a) {
                    if (++examined[0] > limits.maxPassNodes()
                            || (examined[0] & 1023) == 0 && System.nanoTime() > deadline) {
                        r.defer("walk limit per pass");
                        return FileVisitResult.TERMINATE;
                    }
                    String rel = FileNames.of(root.relativize(f));
                    if (a.isSymbolicLink()) {
                        if (rel.equals(CudaDriver.CURRENT)) {
                            return FileVisitResult.CONTINUE; // the agent's own link to the served driver's folder
                        }
                        refuse(r, "symlink", rel);
                        return FileVisitResult.CONTINUE;
                    }
                    if (!a.isRegularFile()) {
                        refuse(r, "special file", rel);
                        return FileVisitResult.CONTINUE;
                    }
                    try {
                        Names.checkRelativePath("path", rel, false);
                    } catch (IllegalArgumentException e) {
                        refuse(r, "bad name", rel);
                        return FileVisitResult.CONTINUE;
                    }
                    EntryRules.Unit u = EntryRules.classify(rel);
                    if (u == null) {
                        return FileVisitResult.CONTINUE; // temp, lock, marker: silently not ours
                    }
                    if (a.size() > limits.maxFileBytes()) {
                        refuse(r, "file too large", rel);
                        return FileVisitResult.CONTINUE;
                    }
                    View.Published pub = view.file(rel);
                    boolean same = unchanged(
                            pub, a.size(), a.fileKey(), a.lastModifiedTime().toMillis());
                    if (!same && pub != null && pub.linked() && Objects.equals(pub.fileKey(), a.fileKey())) {
                        // the store's own blob, written in place through its link: never take it as a new
                        // version (its old address would go on naming the new bytes); check the blob
                        writtenInPlace.add(pub.address());
                        taintedUnits.add(u.entryName());
                        refuse(r, "linked blob written in place", rel);
                        return FileVisitResult.CONTINUE;
                    }
                    units.computeIfAbsent(u.entryName(), k -> new ArrayList<>())
                            .add(new Seen(rel, f, a.size(), a.lastModifiedTime().toMillis(), a.fileKey()));
                    unitInfo.putIfAbsent(u.entryName(), u);
                    if (!same && !unitChanged.containsKey(u.entryName())) {
                        if (changedUnits[0] >= limits.maxPassFiles()) {
                            r.defer("file limit per pass");
                        } else {
                            changedUnits[0]++;
                            unitChanged.put(u.entryName(), true);
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException e) {
                    refuse(r, "unreadable", FileNames.of(root.relativize(f)));
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            refuse(r, "walk failed", e.toString());
        }
        long passBytes = 0;
        long now = clock.millis();
        Work work = new Work();
        store.recheck(writtenInPlace); // the blobs it wrote through: quarantined if damaged
        for (Map.Entry<String, List<Seen>> u : units.entrySet()) {
            if (!unitChanged.containsKey(u.getKey()) || taintedUnits.contains(u.getKey())) {
                continue;
            }
            EntryRules.Unit info = unitInfo.get(u.getKey());
            List<Seen> files = u.getValue();
            if (pass == Pass.FAILED && !info.atomic()) {
                refuse(r, "from a failed run", info.entryName());
                continue;
            }
            if (pass.settles()
                    && files.stream()
                            .anyMatch(s -> now - s.mtime() < limits.settle().toMillis())) {
                if (pass.last()) {
                    refuse(r, "still being written at the end", info.entryName());
                } else {
                    r.defer("still being written");
                }
                continue;
            }
            if (System.nanoTime() > deadline) {
                r.defer("pass time limit");
                continue;
            }
            long unitBytes = files.stream().mapToLong(Seen::size).sum();
            if (passBytes + unitBytes > limits.maxPassBytes()) {
                r.defer("byte limit per pass");
                continue;
            }
            if (info.tritonFolder()) {
                String why = Completeness.tritonFolder(groupFiles(view, info, files));
                if (why != null) {
                    r.defer("incomplete kernel folder");
                    log.debug("not ingesting {}: {}", info.entryName(), why);
                    continue;
                }
            }
            passBytes += unitBytes;
            work.add(info, files);
        }
        // The pass's bytes are reserved in one locked step, not one per file (where they do not fit
        // as things stand, each put reserves and makes room on its own); what is left goes back at the end.
        try (NodeStore.Reservation reserved = reserve(passBytes)) {
            putAndCommit(view, source, work, reserved, r);
        } catch (IOException e) {
            log.warn("could not give back the rest of an ingest pass's reservation: {}", e.toString());
        }
        return r.build(System.nanoTime() - t0);
    }

    /** The units a pass takes, in walk order. */
    private static final class Work {
        private final List<EntryRules.Unit> infos = new ArrayList<>();
        private final List<List<Seen>> files = new ArrayList<>();

        void add(EntryRules.Unit info, List<Seen> unitFiles) {
            infos.add(info);
            files.add(unitFiles);
        }
    }

    private NodeStore.Reservation reserve(long bytes) {
        try {
            return store.reserveFor(bytes);
        } catch (IOException | RuntimeException e) {
            log.warn("could not reserve an ingest pass's bytes at once ({}); reserving file by file", e.toString());
            return NodeStore.Reservation.NONE;
        }
    }

    /** Puts the units' new files on a few threads and commits them in walk order. */
    private void putAndCommit(
            View view, String source, Work work, NodeStore.Reservation reserved, IngestReport.Builder r) {
        List<Ready> batch = new ArrayList<>();
        // A few threads overlap the reads and hashing with the filesystem's waits. Commits stay in
        // walk order, in batches of one journal force each.
        List<Future<Ready>> pending = new ArrayList<>(work.infos.size());
        for (int i = 0; i < work.infos.size(); i++) {
            EntryRules.Unit info = work.infos.get(i);
            List<Seen> files = work.files.get(i);
            pending.add(putters.submit(() -> prepareUnit(view, info, files, source, reserved, r)));
        }
        for (Future<Ready> f : pending) {
            Ready ready;
            try {
                ready = f.get(); // bounded: reads of regular files do not wait on the workload
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (ExecutionException e) {
                refuse(r, "read error", String.valueOf(e.getCause()));
                continue;
            }
            if (ready != null) {
                batch.add(ready);
                if (batch.size() >= BATCH) {
                    commitBatch(view, batch, r);
                }
            }
        }
        commitBatch(view, batch, r);
    }

    private void settleOnce() {
        try {
            Thread.sleep(limits.settle().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Map<String, byte[]> groupFiles(View view, EntryRules.Unit info, List<Seen> files) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Seen s : files) {
            String inEntry = s.rel().substring(info.entryName().length());
            byte[] head = null;
            if (inEntry.startsWith("__grp__") && s.size() <= 1 << 16) {
                try {
                    head = readSmall(view, s);
                } catch (IOException e) {
                    head = new byte[0];
                }
            }
            out.put(inEntry, head);
        }
        return out;
    }

    private byte[] readSmall(View view, Seen s) throws IOException {
        try (Source src = openChecked(view, s)) {
            return src.in().readNBytes(1 << 16);
        }
    }

    /** The file is still what was published (or last ingested) there: same size, inode and mtime. */
    private static boolean unchanged(View.Published p, long size, Object fileKey, long mtime) {
        return p != null && p.size() == size && Objects.equals(p.fileKey(), fileKey) && p.mtimeMillis() == mtime;
    }

    /** A unit read into the store and waiting for its commit. */
    private record Ready(NodeStore.Pending pending, List<Seen> files, long bytes, int read, List<Address> written) {}

    /** Reads a unit's new files into the store; null (and counted) if it cannot be taken now. */
    private Ready prepareUnit(
            View view,
            EntryRules.Unit info,
            List<Seen> files,
            String source,
            NodeStore.Reservation reserved,
            IngestReport.Builder r) {
        List<EntryFile> out = new ArrayList<>(files.size());
        List<Address> written = new ArrayList<>();
        long bytes = 0;
        int read = 0;
        boolean ok = false;
        try {
            for (Seen s : files) {
                String inEntry = info.folder()
                        ? s.rel().substring(info.entryName().length())
                        : s.rel().substring(s.rel().lastIndexOf('/') + 1);
                View.Published p = view.file(s.rel());
                if (unchanged(p, s.size(), s.fileKey(), s.mtime())) {
                    out.add(new EntryFile(inEntry, p.address(), p.size(), p.executable()));
                    continue;
                }
                boolean[] executable = {false};
                NodeStore.Stored w = readInto(view, s, reserved, written, executable);
                if (w == null) {
                    r.defer("still being written");
                    return null;
                }
                out.add(new EntryFile(inEntry, w.address(), w.size(), executable[0]));
                bytes += w.size();
                read++;
            }
            ok = true;
        } catch (StoreFullException e) {
            refuse(r, "store full", info.entryName() + ": " + e.getMessage());
            return null;
        } catch (RefusedException e) {
            refuse(r, e.getMessage(), info.entryName());
            return null;
        } catch (IOException | RuntimeException e) {
            refuse(r, "read error", info.entryName() + ": " + e);
            return null;
        } finally {
            if (!ok) {
                abandon(written);
            }
        }
        EntryKey key = new EntryKey(view.group(), info.entryName());
        String prov = "group=" + view.group().text() + " source=" + source + " at=" + clock.instant();
        return new Ready(new NodeStore.Pending(key, out, prov), files, bytes, read, written);
    }

    /** Commits ready units in one journal force and records them as the view's published state. */
    private void commitBatch(View view, List<Ready> batch, IngestReport.Builder r) {
        if (batch.isEmpty()) {
            return;
        }
        List<NodeStore.Pending> pending = new ArrayList<>(batch.size());
        batch.forEach(b -> pending.add(b.pending()));
        List<NodeStore.Outcome> outcomes;
        try {
            outcomes = store.commitAll(pending);
        } catch (IOException | RuntimeException e) {
            for (Ready b : batch) {
                refuse(r, "commit failed", b.pending().key().name() + ": " + e);
                abandon(b.written());
            }
            batch.clear();
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            Ready b = batch.get(i);
            NodeStore.Outcome o = outcomes.get(i);
            if (o.error() != null) {
                abandon(b.written());
            }
            if (o.error() instanceof BlobMissingException) {
                r.defer("blob evicted before commit");
                continue;
            }
            if (o.error() != null) {
                refuse(
                        r,
                        o.error() instanceof StoreFullException ? "store full" : "commit failed",
                        b.pending().key().name() + ": " + o.error().getMessage());
                continue;
            }
            List<EntryFile> committed = o.entry().files();
            for (int j = 0; j < b.files().size(); j++) {
                Seen s = b.files().get(j);
                EntryFile f = committed.get(j);
                view.ingested(s.rel(), o.entry().key(), f, s.fileKey(), s.mtime());
            }
            r.add(o.entry().key().name(), b.bytes(), b.read());
        }
        batch.clear();
    }

    /** Signals a file refused while reading it (its reason is the message). */
    static final class RefusedException extends IOException {
        RefusedException(String why) {
            super(why);
        }
    }

    /** Releases the reservation of blobs put for a unit that will not be committed. */
    private void abandon(List<Address> written) {
        try {
            store.abandon(written);
        } catch (IOException | RuntimeException e) {
            log.warn("could not release abandoned blobs: {}", e.toString());
        }
    }

    /**
     * Reads a file into the store; null if it changed while being read. New blobs are added to
     * {@code written}; {@code executable[0]} gets the file's owner-execute bit.
     */
    private NodeStore.Stored readInto(
            View view, Seen s, NodeStore.Reservation reserved, List<Address> written, boolean[] executable)
            throws IOException {
        try (Source src = openChecked(view, s)) {
            executable[0] = (src.mode() & 0100) != 0;
            NodeStore.Stored w = store.put(new CappedStream(src.in(), s.size()), s.size(), reserved);
            if (!w.existed()) {
                written.add(w.address());
            }
            BasicFileAttributes after =
                    Files.readAttributes(s.path(), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (after.size() != s.size()
                    || after.lastModifiedTime().toMillis() != s.mtime()
                    || w.size() != s.size()
                    || !Objects.equals(after.fileKey(), s.fileKey())) {
                return null;
            }
            return w;
        }
    }

    /** An opened file of the view and its permission bits. */
    private record Source(InputStream in, int mode) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * Opens a file of the view for reading, never blocking and never through a link, and checks that
     * it is what the walk saw and a file the workload itself made there (see the class comment).
     */
    private Source openChecked(View view, Seen s) throws IOException {
        if (UntrustedFiles.available()) {
            UntrustedFiles.Opened o;
            try {
                o = UntrustedFiles.openBeneath(view.dir(), view.dir().relativize(s.path()));
            } catch (UntrustedFiles.Refused e) {
                throw new RefusedException(e.getMessage());
            }
            try {
                checkOrigin(view, s, o.stat());
            } catch (IOException | RuntimeException e) {
                o.close();
                throw e;
            }
            return new Source(o, o.stat().mode());
        }
        UntrustedFiles.Stat st = pathStat(s.path());
        checkOrigin(view, s, st);
        return new Source(openOnReader(s), st.mode());
    }

    /** Refuses what the workload did not write itself into its view (the checks of the class comment). */
    private static void checkOrigin(View view, Seen s, UntrustedFiles.Stat st) throws RefusedException {
        if (!st.regular()) {
            throw new RefusedException("special file");
        }
        if (!Objects.equals(st.fileKey(), s.fileKey())) {
            throw new RefusedException("replaced during ingest");
        }
        if (st.nlink() != 1) {
            throw new RefusedException("hard link to a file elsewhere");
        }
        if (view.workloadUid() != null && st.uid() != view.workloadUid()) {
            throw new RefusedException("not the workload's file");
        }
        if ((st.mode() & 0004) == 0) {
            throw new RefusedException("private file");
        }
    }

    private static UntrustedFiles.Stat pathStat(Path p) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        Map<String, Object> u = Files.readAttributes(p, "unix:nlink,uid,mode", LinkOption.NOFOLLOW_LINKS);
        return new UntrustedFiles.Stat(
                a.fileKey(),
                a.isRegularFile(),
                a.size(),
                a.lastModifiedTime().toMillis(),
                (Integer) u.get("nlink"),
                (Integer) u.get("uid"),
                (Integer) u.get("mode"));
    }

    /**
     * Where native access is missing: opens without following a final symlink, on a reader thread
     * with a deadline (a FIFO swapped in blocks open).
     */
    private InputStream openOnReader(Seen s) throws IOException {
        Future<InputStream> f = readers.submit(() -> {
            BasicFileAttributes a =
                    Files.readAttributes(s.path(), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile() || !Objects.equals(a.fileKey(), s.fileKey())) {
                throw new RefusedException("replaced during ingest");
            }
            return Files.newInputStream(s.path(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        });
        try {
            return f.get(OPEN_DEADLINE_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new RefusedException("open blocked (special file swapped in)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        }
    }

    /** Fails a read that yields more bytes than the file had when it was walked (it is growing). */
    private static final class CappedStream extends FilterInputStream {
        private long left;

        CappedStream(InputStream in, long cap) {
            super(in);
            this.left = cap;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                left -= n;
                if (left < 0) {
                    throw new RefusedException("file grew while being read");
                }
            }
            return n;
        }

        @Override
        public int read() throws IOException {
            int c = super.read();
            if (c >= 0 && --left < 0) {
                throw new RefusedException("file grew while being read");
            }
            return c;
        }
    }

    private static void refuse(IngestReport.Builder r, String why, String what) {
        r.refuse(why, Names.printable(what));
        log.warn("ingest refused {}: {}", why, Names.printable(what));
    }

    @Override
    public void close() {
        putters.shutdownNow();
        readers.shutdownNow();
    }
}
