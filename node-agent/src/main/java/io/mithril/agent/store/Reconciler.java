package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.fs.NodeRoot;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The filesystem is the truth: the store's layout check at open, the reconcile of the index with
 * the blobs on disk (entries that lost a blob, orphan blobs, dead processes' temp files), and
 * verification (re-hashing, mode and owner) with the settling of damaged blobs. Hashing runs
 * outside the store lock; every method that changes the index runs under it.
 */
final class Reconciler {

    private static final Logger log = LoggerFactory.getLogger(Reconciler.class);
    private static final String MARKER = "mithril-store";
    private static final int FORMAT = 1;
    private static final Pattern LAYOUT = Pattern.compile(
            "mithril-store(\\..*\\.tmp)?|lock|leases|blobs|tmp|quarantine|CURRENT(\\.tmp)?|journal\\.\\d+|clean(\\.tmp)?|index\\.snap(\\.tmp)?|"
                    + NodeRoot.PATTERN.pattern());
    /** Written at a clean close by the last process on the root, removed at every open. */
    static final String CLEAN = "clean";

    private final Path root;
    private final BlobStore blobs;
    private final Index index;
    private final StoreConfig config;
    private final Pinning pinning;
    private final Capacity capacity;
    private final Capacity.Retirer retirer;
    /** The store's user: the owner of its root folder. Blobs are read-only (0444) and this user's. */
    private final int ownerUid;
    /** This process's user, who owns the blobs it writes (the store's user, unless someone else opened the store). */
    private final int processUid;

    Reconciler(
            Path root,
            BlobStore blobs,
            Index index,
            StoreConfig config,
            Pinning pinning,
            Capacity capacity,
            Capacity.Retirer retirer)
            throws IOException {
        this.root = root;
        this.blobs = blobs;
        this.index = index;
        this.config = config;
        this.pinning = pinning;
        this.capacity = capacity;
        this.retirer = retirer;
        this.ownerUid = (Integer) Files.getAttribute(root, "unix:uid");
        this.processUid = processUid(ownerUid);
    }

    /** Checks the format marker, or creates the store in an empty directory (or one only a store's files are in). */
    static void initLayout(Path root) throws IOException {
        Path marker = root.resolve(MARKER);
        if (Files.exists(marker, LinkOption.NOFOLLOW_LINKS)) {
            String text = Files.readString(marker).trim();
            if (!text.equals("format " + FORMAT)) {
                throw new IOException("store at " + root + " has an unsupported format: " + text);
            }
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                // Another process may be creating the store right now: only its own names are allowed.
                if (!LAYOUT.matcher(p.getFileName().toString()).matches()) {
                    throw new IOException("refusing to create a store in " + root
                            + ": the directory is not empty and is not a Mithril store");
                }
            }
        }
        Path tmp = root.resolve(MARKER + "." + UUID.randomUUID() + ".tmp");
        Files.writeString(tmp, "format " + FORMAT + "\n");
        Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE);
        BlobStore.fsyncDir(root);
    }

    /**
     * Drops entries whose blobs are gone, deletes orphan blobs and the temp files and leases of
     * dead processes. Under the lock.
     */
    void reconcile() throws IOException {
        int[] orphans = {0};
        List<EntryKey> lost = sweep(orphans, true);
        if (!lost.isEmpty() || orphans[0] > 0) {
            log.warn(
                    "reconciled the index with the disk: {} entries lost a blob, {} orphan blobs removed",
                    lost.size(),
                    orphans[0]);
        }
    }

    /**
     * Lists every blob on disk once, marking those the index knows (a bit each: no set of every
     * address, which at ten million blobs would not fit the agent's heap) and deleting orphans as
     * they are found; then drops the entries that name a blob not found. Under the lock.
     */
    private List<EntryKey> sweep(int[] orphansRemoved, boolean logStray) throws IOException {
        Leases.Others others = pinning.others();
        long cutoff = config.clock().getAsLong() - config.orphanGrace().toMillis();
        List<EntryKey> lost;
        index.startMarks();
        try {
            blobs.scan(
                    a -> {
                        if (index.mark(a) || capacity.isPending(a)) {
                            return;
                        }
                        if (others.liveIds().isEmpty() || blobs.mtimeMillis(a) < cutoff) {
                            try {
                                blobs.delete(a);
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                            orphansRemoved[0]++;
                        }
                    },
                    p -> {
                        if (logStray) {
                            log.warn("stray file in the blob tree, ignored: {}", p);
                        }
                    });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            lost = index.endMarks();
        }
        // in chunks: removals hold their entries and freed addresses until retired
        List<Index.Removal> removals = new ArrayList<>();
        for (int i = 0; i < lost.size(); i++) {
            Index.Removal r = index.remove(lost.get(i), EvictionCause.LOST);
            if (r != null) {
                removals.add(r);
            }
            if (removals.size() == 10_000 || i == lost.size() - 1) {
                retirer.retire(removals);
                removals.clear();
            }
        }
        sweepTemps(others);
        return lost;
    }

    /** Deletes the temp files of processes whose lease is dead (the leases themselves go as {@code others} is read). */
    private void sweepTemps(Leases.Others others) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs.tmpDir())) {
            for (Path t : ds) {
                String name = t.getFileName().toString();
                int dot = name.indexOf('.');
                String owner = dot < 0 ? name : name.substring(0, dot);
                if (!owner.equals(pinning.id()) && !others.liveIds().contains(owner)) {
                    Files.deleteIfExists(t);
                }
            }
        }
    }

    /**
     * At open, under the lock: what the previous life of the store left. After a clean close (the
     * marker is there) the index replayed from the journal names exactly the blobs on disk, so
     * only the cheap part runs (dead processes' leases and temp files); otherwise, or when
     * {@code full}, or when {@code orphansKnown} (the replay evicted for memory), the whole {@link #reconcile}. The marker is removed durably first either way, so
     * a crash of this process from now on leaves a store that the next open rebuilds in full.
     * Returns whether the blob scan was skipped.
     */
    boolean recover(boolean full, boolean orphansKnown) throws IOException {
        Path marker = root.resolve(CLEAN);
        boolean clean = Files.deleteIfExists(marker);
        if (clean) {
            BlobStore.fsyncDir(root);
        }
        if (!full) {
            return false;
        }
        if (clean && !orphansKnown) {
            sweepTemps(pinning.others());
            log.info("opened after a clean close: blob scan skipped");
            return true;
        }
        reconcile();
        if (pinning.others().liveIds().isEmpty()) {
            pinning.clearCrashed(); // alone: every orphan a dead process left was deleted at once
        }
        return false;
    }

    /**
     * At close, under the lock, once the journal is forced and this process's uncommitted blobs
     * are deleted: marks the close clean, unless another process is alive on the root (it may
     * still crash), one died without closing since the last full reconcile alone (its orphans),
     * or this process failed to delete a blob it freed (an orphan only a scan finds).
     */
    void markClean(boolean orphansLeft) throws IOException {
        if (!mayMarkClean(orphansLeft)) {
            return;
        }
        Path tmp = root.resolve(CLEAN + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp,
                Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING),
                StorePermissions.PRIVATE_FILE)) {
            ch.force(true);
        }
        Files.move(tmp, root.resolve(CLEAN), StandardCopyOption.ATOMIC_MOVE);
        BlobStore.fsyncDir(root);
    }

    /** Whether {@link #markClean} would mark the close clean. */
    boolean mayMarkClean(boolean orphansLeft) throws IOException {
        return !orphansLeft && pinning.others().liveIds().isEmpty() && !pinning.crashSeen();
    }

    /** Removes from the index every entry that names {@code a}, adding the removals to {@code into}. Under the lock. */
    private void removeReferring(Address a, EvictionCause cause, List<Index.Removal> into) {
        for (EntryKey k : index.entriesReferring(Set.of(a))) {
            Index.Removal r = index.remove(k, cause);
            if (r != null) {
                into.add(r);
            }
        }
    }

    /** Outside the lock: the suspects whose bytes, mode or owner are not as they should be. */
    List<Address> damaged(Collection<Address> suspects) {
        List<Address> found = new ArrayList<>();
        for (Address a : suspects) {
            try {
                if (blobs.exists(a) && !sound(blobs.inspect(a))) {
                    found.add(a);
                }
            } catch (NoSuchFileException gone) {
                // evicted meanwhile
            } catch (IOException e) {
                log.warn("could not re-check blob {}: {}", a, e.toString());
            }
        }
        return found;
    }

    /** What a verify found outside the lock: every blob listed, their bytes, the damaged ones, stray files. */
    record Hashed(List<Address> all, long bytes, List<Address> damaged, List<Path> stray) {}

    /** Outside the lock: lists and re-hashes every blob, in parallel. */
    Hashed hashAll() throws IOException {
        List<Address> all = new ArrayList<>();
        List<Path> stray = new ArrayList<>();
        blobs.scan(all::add, stray::add);
        List<Address> found = Collections.synchronizedList(new ArrayList<>());
        LongAdder bytes = new LongAdder();
        all.parallelStream().forEach(a -> {
            try {
                BlobStore.Inspection i = blobs.inspect(a);
                bytes.add(i.size());
                if (!sound(i)) {
                    found.add(a);
                }
            } catch (NoSuchFileException gone) {
                // evicted meanwhile
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        return new Hashed(all, bytes.sum(), found, stray);
    }

    /** Under the lock: settles what {@link #hashAll} found and drops entries whose blobs are missing now. */
    VerifyReport finishVerify(Hashed h) throws IOException {
        Damage d = settle(h.damaged());
        int[] orphans = {0};
        List<EntryKey> dropped =
                new ArrayList<>(d.dropped()); // listed again under the lock: commits made while hashing count
        dropped.addAll(sweep(orphans, false));
        return new VerifyReport(
                h.all().size(), h.bytes(), d.quarantined(), dropped, h.stray(), orphans[0], d.repaired());
    }

    /** What {@link #settle} did: blobs quarantined, the entries that dropped with them, blobs sealed again. */
    record Damage(List<Address> quarantined, List<EntryKey> dropped, List<Address> repaired) {}

    /**
     * Under the lock: looks again at blobs found damaged outside it (one may have been evicted, or
     * put again whole, meanwhile). A blob whose bytes do not match is quarantined and every entry
     * naming it dropped (cause CORRUPT), durably, before the blobs those entries alone held are
     * deleted. A blob whose bytes match but whose mode or owner is wrong is sealed again; if that
     * fails (no right to change the owner), it is quarantined too, since its owner could rewrite it.
     */
    Damage settle(Collection<Address> found) throws IOException {
        List<Address> quarantined = new ArrayList<>();
        List<Address> repaired = new ArrayList<>();
        List<Index.Removal> removals = new ArrayList<>();
        for (Address a : found) {
            BlobStore.Inspection i;
            try {
                i = blobs.exists(a) ? blobs.inspect(a) : null;
            } catch (NoSuchFileException gone) {
                i = null;
            }
            if (i == null || sound(i)) {
                continue;
            }
            if (i.matches()) {
                int uid = processUid == 0 ? ownerUid : processUid; // only root can give a file away
                try {
                    blobs.seal(a, uid);
                    log.warn(
                            "blob {} had mode {} and owner uid {}; restored 0444 and uid {}",
                            a,
                            Integer.toOctalString(i.mode()),
                            i.uid(),
                            uid);
                    repaired.add(a);
                    continue;
                } catch (IOException e) {
                    log.error(
                            "blob {} has mode {} and owner uid {} and cannot be sealed again ({}); quarantining it",
                            a,
                            Integer.toOctalString(i.mode()),
                            i.uid(),
                            e.toString());
                }
            }
            Path q = blobs.quarantine(a);
            log.error(
                    "blob {} {}; moved to {}",
                    a,
                    i.matches() ? "cannot be protected" : "does not match its address",
                    q);
            quarantined.add(a);
            removeReferring(a, EvictionCause.CORRUPT, removals);
        }
        retirer.retire(removals);
        List<EntryKey> dropped = new ArrayList<>();
        removals.forEach(r -> dropped.add(r.entry().key()));
        return new Damage(quarantined, dropped, repaired);
    }

    /**
     * Whether a blob needs nothing: its bytes match, it is read-only (0444, no other bits) and owned
     * by the store's user or by this process's (which wrote it); no one else can change it then.
     */
    private boolean sound(BlobStore.Inspection i) {
        return i.matches() && i.mode() == BlobStore.SEALED_MODE && (i.uid() == ownerUid || i.uid() == processUid);
    }

    /** This process's effective uid, as the owner of {@code /proc/self}; {@code fallback} where there is none. */
    private static int processUid(int fallback) {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return fallback;
        }
    }
}
