package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.Arena;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import io.mithril.agent.index.Journal;
import io.mithril.agent.index.JournalRecord;
import io.mithril.agent.index.Snapshot;
import io.mithril.agent.key.GroupId;
import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's content store: blobs by BLAKE3 address, entries by group, LRU eviction under a budget.
 *
 * <h2>On disk</h2>
 * <pre>
 *   mithril-store          format marker
 *   blobs/ab/abcd...       immutable blobs ({@link BlobStore})
 *   journal.N, CURRENT     the index journal of generation N ({@link Journal}), CURRENT names N
 *   lock                   the store lock (an exclusive record lock, held briefly)
 *   clean                  only while closed cleanly: the next open skips the blob scan ({@link Reconciler#recover})
 *   index.snap             the index as of that clean close, read instead of the journal ({@link Snapshot})
 *   leases/ID.lease        each live process's pins and reservations ({@link Leases})
 *   tmp/, quarantine/      in-flight writes; blobs that failed verification
 * </pre>
 *
 * <h2>Invariants and why they survive a crash</h2>
 * <ul>
 *   <li>An entry is committed when its Commit record is forced to the journal, and that happens only
 *       after every blob it names was found present under the lock and synced (bytes, then its
 *       shard directory; a batch's blobs together). A blob under its name that no commit names may
 *       be unsynced, so a write never takes such a copy for its own unless this process wrote it
 *       ({@link BlobStore#write(InputStream, BlobStore.Growth, BlobStore.Trusted)}). So a replayed entry never names a missing blob unless something outside Mithril
 *       deleted it; the reconcile at open drops such entries (cause LOST) rather than serve them.</li>
 *   <li>A blob is deleted only under the lock, after the Remove records that free it are forced. A
 *       crash in between leaves an orphan blob, which the sweep at open deletes.</li>
 *   <li>A torn journal tail (crash mid-append) fails its CRC and is cut off by the next lock holder:
 *       it was never acknowledged, because acknowledgement follows the force.</li>
 *   <li>Temp files carry their owner's lease id and are deleted once that lease is dead.</li>
 * </ul>
 *
 * <h2>Capacity model</h2>
 * Usage is the bytes of committed blobs plus every live process's reservations (bytes of writes in
 * flight and of blobs written but not yet committed). A write reserves before it writes; if usage
 * would pass the hard limit, the least recently used unpinned entries are evicted synchronously, and
 * if that is not enough the write is refused ({@link StoreFullException}). After a commit leaves usage
 * above the soft limit, a background thread evicts down to it. Pinned entries are never evicted and
 * still count. The hard limit in force is the smaller of the configured one and the committed bytes
 * plus the filesystem's usable space less the free-space reserve and a margin for the journal
 * ({@link Capacity#hardLimitNow}); the soft limit follows it at 90 %. Bytes on disk that are also counted as
 * reservations (written, not yet committed) are counted twice, so the guard errs towards stopping early.
 *
 * <h2>Concurrency</h2>
 * One instance per root per process (enforced); any number of threads and processes. Lock order:
 * the in-process mutex, then the file lock. Blob writes (hashing, I/O, fsync) run outside both, on
 * the caller's thread; everything under the file lock runs on the store's own {@link StoreThread},
 * which no caller's interrupt reaches (one would close the lock, journal and lease channels).
 * Within the lock each process first replays the journal records other processes appended, so its
 * index is current for every decision. Lookups take only the mutex and see this process's view,
 * as of its last locked operation or {@link #sync()}.
 */
public final class NodeStore implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(NodeStore.class);
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();
    private final Path root;
    private final StoreConfig config;
    private final BlobStore blobs;
    private final Index index;
    private final ReentrantLock mutex = new ReentrantLock();
    private final FileChannel lockChannel;
    private final StoreThread thread;
    private final JournalLog journal;
    private final Pinning pinning;
    private final Capacity capacity;
    private final Reconciler reconciler;
    private final ConcurrentLinkedQueue<JournalRecord.Touch> touches = new ConcurrentLinkedQueue<>();
    private final Map<GroupId, Long> groupBudgets = new ConcurrentHashMap<>();
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final Map<EvictionCause, LongAdder> evictions = new EnumMap<>(EvictionCause.class);
    private final ExecutorService evictor;
    private final AtomicBoolean evictionQueued = new AtomicBoolean();
    private boolean closed;
    /** A blob this process freed could not be deleted: the next open must scan for orphans. */
    private volatile boolean orphansLeft;
    /** Whether the open found a clean close and skipped the blob scan. */
    private boolean scanSkipped;

    private NodeStore(Path root, StoreConfig config, StoreThread thread) throws IOException {
        this.root = root;
        this.config = config;
        this.thread = thread;
        for (EvictionCause c : EvictionCause.values()) {
            evictions.put(c, new LongAdder());
        }
        this.lockChannel = FileChannel.open(
                root.resolve("lock"),
                Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                StorePermissions.PRIVATE_FILE);
        FileStore fileStore = config.freeSpaceReserve().isNone() ? null : Files.getFileStore(root);
        // Created under the store lock: another process's readOthers() must never see our lease
        // file between its creation and our lock on it (it would take it for a dead one).
        try (FileLock ignored = lockChannel.lock()) {
            this.pinning = new Pinning(root);
        }
        this.blobs = new BlobStore(root, pinning.id(), config.faults());
        this.index = new Index(new Arena(new MappedChunks(blobs.tmpDir(), pinning.id()), Arena.DEFAULT_CHUNK));
        this.journal = new JournalLog(root, index, config.faults(), config.indexHeap());
        this.capacity = new Capacity(config, fileStore, index, pinning, this::retire);
        this.reconciler = new Reconciler(root, blobs, index, config, pinning, capacity, this::retire);
        this.evictor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "mithril-evictor");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Opens (creating if empty) the store at {@code root}: loads the journal, and unless the config
     * says otherwise reconciles the index with the blobs on disk and removes what dead processes left.
     */
    public static NodeStore open(Path root, StoreConfig config) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new NoSuchFileException(root.toString(), null, "store root does not exist or is not a directory");
        }
        Path real = root.toRealPath();
        if (!Files.isWritable(real)) {
            throw new AccessDeniedException(real.toString(), null, "store root is not writable");
        }
        Reconciler.initLayout(real);
        StorePermissions.apply(real);
        if (!OPEN.add(real)) {
            throw new IllegalStateException("store " + real + " is already open in this process");
        }
        StoreThread thread = new StoreThread("mithril-store " + real.getFileName());
        NodeStore s = null;
        try {
            s = thread.call(() -> new NodeStore(real, config, thread));
            NodeStore st = s;
            s.scanSkipped = s.locked(() -> {
                boolean skipped = st.reconciler.recover(config.reconcileOnOpen(), st.orphansLeft);
                if (config.reconcileOnOpen() && !skipped) {
                    st.orphansLeft = false; // the full scan deleted every orphan
                }
                return skipped;
            });
            return s;
        } catch (IOException | RuntimeException e) {
            if (s != null) {
                s.closeQuietly();
            } else {
                thread.close();
                OPEN.remove(real);
            }
            throw e;
        }
    }

    public Path root() {
        return root;
    }

    public StoreConfig config() {
        return config;
    }

    /**
     * Whether this open found the store closed cleanly (the last process closed it and left no
     * orphan) and so skipped the scan of every blob shard; false after a crash, which rebuilds in full.
     */
    public boolean openedClean() {
        return scanSkipped;
    }

    /** Whether this open read the index from the clean close's snapshot rather than the journal. For tests. */
    boolean loadedFromSnapshot() {
        return journal.loadedFromSnapshot();
    }

    // ---------------------------------------------------------------- blobs (the seed's API)

    /** A blob put into the store: its address and size, and whether identical bytes were already there. */
    public record Stored(Address address, long size, boolean existed) {}

    /** An entry evicted or removed: its key, why, and the bytes its going freed (blobs no other entry names). */
    public record Evicted(EntryKey key, EvictionCause cause, long freedBytes) {}

    /** Stores bytes; returns their address. Identical content is stored once. */
    public Address put(byte[] bytes) throws IOException {
        return put(new ByteArrayInputStream(bytes), bytes.length).address();
    }

    /** Stores a regular file's bytes (never following a symlink). */
    public Stored putFile(Path file) throws IOException {
        return putFile(file, Reservation.NONE);
    }

    /** As {@link #putFile(Path)}, drawing its reservation from {@code batch} while that holds enough. */
    public Stored putFile(Path file, Reservation batch) throws IOException {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            return put(in, Files.size(file), batch);
        }
    }

    /**
     * Stores a stream. {@code sizeHint} (or -1) lets the reservation be taken in one step; the
     * stream may be longer, in which case the reservation grows as it is read.
     */
    public Stored put(InputStream in, long sizeHint) throws IOException {
        return put(in, sizeHint, Reservation.NONE);
    }

    /**
     * Bytes reserved in one locked step for several puts (an ingest batch), which draw from it
     * under the in-process mutex only, without the store lock or a lease rewrite each. What they
     * do not use is given back at {@link #close()}. A put that finds too little left reserves on
     * its own, as without a batch.
     */
    public static final class Reservation implements AutoCloseable {
        /** No batch: every put reserves on its own. */
        public static final Reservation NONE = new Reservation(null, 0);

        private final NodeStore store;
        /** Reserved and not drawn yet; guarded by the store's mutex. */
        private long left;

        private Reservation(NodeStore store, long left) {
            this.store = store;
            this.left = left;
        }

        /** Takes {@code bytes} from what is left; false (nothing taken) when too little is. Under the mutex. */
        private boolean draw(long bytes) {
            if (store == null || bytes > left) {
                return false;
            }
            left -= bytes;
            return true;
        }

        /** Gives back to the store's reservations what no put drew. */
        @Override
        public void close() throws IOException {
            if (store == null) {
                return;
            }
            store.mutex.lock();
            long rest;
            try {
                if (store.closed) {
                    return; // the store's close gave up every reservation
                }
                rest = left;
                left = 0;
            } finally {
                store.mutex.unlock();
            }
            if (rest > 0) {
                store.locked(() -> {
                    store.capacity.release(rest);
                    store.writeLease();
                    return null;
                });
            }
        }
    }

    /**
     * Reserves {@code bytes} for the puts of a batch in one locked step, if they fit without
     * evicting anything; otherwise returns an empty reservation, and each put reserves (evicting
     * if it must) on its own. Close it when the batch's puts are done.
     */
    public Reservation reserveFor(long bytes) throws IOException {
        if (bytes <= 0) {
            return Reservation.NONE;
        }
        return locked(() -> {
            if (!capacity.reserveIfRoom(bytes)) {
                return Reservation.NONE;
            }
            writeLease();
            return new Reservation(this, bytes);
        });
    }

    /** As {@link #put(InputStream, long)}, drawing the reservation for {@code sizeHint} from {@code batch} when it holds enough. */
    public Stored put(InputStream in, long sizeHint, Reservation batch) throws IOException {
        long[] reserved = {0};
        try {
            if (sizeHint > 0) {
                boolean drawn;
                mutex.lock();
                try {
                    drawn = batch.draw(sizeHint);
                } finally {
                    mutex.unlock();
                }
                if (!drawn) {
                    reserve(sizeHint);
                }
                reserved[0] = sizeHint;
            }
            BlobStore.Written w = blobs.write(
                    in,
                    total -> {
                        if (total > reserved[0]) {
                            long step =
                                    Math.max(total - reserved[0], Math.min(Math.max(reserved[0], 1 << 20), 64L << 20));
                            try {
                                reserve(step);
                            } catch (StoreFullException full) {
                                step = total - reserved[0];
                                reserve(step);
                            }
                            reserved[0] += step;
                        }
                    },
                    this::vouchedFor);
            long r = reserved[0];
            reserved[0] = 0;
            // Only the in-process mutex: the lease keeps announcing the old total until the next
            // locked operation rewrites it, and that total is never lower than the truth (the
            // reservation moves to the written blob, or is released), so others stay safe.
            mutex.lock();
            try {
                capacity.written(r, w.address(), w.size(), w.existed());
                pinning.markStale();
            } finally {
                mutex.unlock();
            }
            return new Stored(w.address(), w.size(), w.existed());
        } finally {
            if (reserved[0] > 0) {
                long r = reserved[0];
                locked(() -> {
                    capacity.release(r);
                    writeLease();
                    return null;
                });
            }
        }
    }

    /**
     * Whether a blob already under its name may stand for a new write of the same bytes: it is
     * committed (so durable), or this process's own uncommitted one (which its commit syncs).
     */
    private boolean vouchedFor(Address a) {
        mutex.lock();
        try {
            return index.hasBlob(a) || capacity.isPending(a);
        } finally {
            mutex.unlock();
        }
    }

    private void reserve(long bytes) throws IOException {
        locked(() -> {
            capacity.reserve(bytes);
            writeLease();
            return null;
        });
    }

    /**
     * Gives up blobs this process put for an entry it will not commit (a unit refused half-way):
     * releases their reservation and deletes those no entry names.
     */
    public void abandon(Collection<Address> addresses) throws IOException {
        if (addresses.isEmpty()) {
            return;
        }
        locked(() -> {
            for (Address a : addresses) {
                if (capacity.forget(a) && !index.hasBlob(a)) {
                    blobs.delete(a);
                }
            }
            writeLease();
            return null;
        });
    }

    /** The blob's bytes, or null when absent. */
    public byte[] get(Address a) throws IOException {
        try (InputStream in = blobs.open(a)) {
            return in == null ? null : in.readAllBytes();
        }
    }

    /** An open stream on the blob, or null when absent. The caller closes it. */
    public InputStream open(Address a) throws IOException {
        return blobs.open(a);
    }

    public boolean exists(Address a) {
        return blobs.exists(a);
    }

    public Path blobPath(Address a) {
        return blobs.path(a);
    }

    // ---------------------------------------------------------------- entries

    /** A file to commit as part of an entry: where its bytes are now, and its path in the entry. */
    public record SourceFile(String path, Path source, boolean executable) {}

    /**
     * Puts every file, then commits the entry. If another process deleted a blob between this put
     * (which found it present and skipped the write) and the commit, puts again: up to three tries.
     */
    public Entry commitFiles(EntryKey key, List<SourceFile> files, String provenance) throws IOException {
        for (int attempt = 0; ; attempt++) {
            List<EntryFile> out = new ArrayList<>(files.size());
            for (SourceFile f : files) {
                Stored w = putFile(f.source());
                out.add(new EntryFile(f.path(), w.address(), w.size(), f.executable()));
            }
            try {
                return commit(key, out, provenance);
            } catch (BlobMissingException e) {
                if (attempt >= 2) {
                    throw e;
                }
            }
        }
    }

    /**
     * Commits an entry whose blobs were put. Replaces any entry with the same key (a new version).
     * Durable when this returns.
     */
    public Entry commit(EntryKey key, List<EntryFile> files, String provenance) throws IOException {
        Outcome o = commitAll(List.of(new Pending(key, files, provenance))).get(0);
        if (o.error() instanceof IOException io) {
            throw io;
        }
        if (o.error() instanceof RuntimeException re) {
            throw re;
        }
        return o.entry();
    }

    /** An entry to commit. */
    public record Pending(EntryKey key, List<EntryFile> files, String provenance) {}

    /** What became of one {@link Pending}: the committed entry, or why not. */
    public record Outcome(Pending pending, Entry entry, Exception error) {}

    /**
     * Commits several entries under one lock and one journal force (what ingest uses: a tree of
     * small entries must not cost one fsync each). Each entry succeeds or fails on its own
     * (missing blob, no room); the ones that succeed are durable when this returns. Entries of the
     * batch are not evicted to make room for each other.
     */
    public List<Outcome> commitAll(List<Pending> batch) throws IOException {
        return locked(() -> {
            Set<EntryKey> batchKeys = new HashSet<>();
            Set<Address> batchBlobs = new HashSet<>();
            batch.forEach(b -> {
                batchKeys.add(b.key());
                b.files().forEach(f -> batchBlobs.add(f.address()));
            });
            // Making room must not evict an entry that holds a blob this batch names: the blob would
            // be deleted under the entry about to name it. Such entries count as pinned here.
            Predicate<EntryKey> keep = k -> batchKeys.contains(k) || holdsAny(k, batchBlobs);
            Set<EntryKey> keepKeys = batchKeys;
            List<Outcome> out = new ArrayList<>(batch.size());
            List<JournalRecord> records = new ArrayList<>();
            List<Index.Removal> removals = new ArrayList<>();
            Set<Address> synced = new HashSet<>();
            Leases.Others others = Capacity.NO_OTHERS;
            try {
                for (Pending pe : batch) {
                    Map<Address, Long> fresh;
                    try {
                        fresh = freshBlobs(pe);
                        long unreserved = 0;
                        for (Map.Entry<Address, Long> x : fresh.entrySet()) {
                            if (!capacity.isPending(x.getKey())) {
                                unreserved += x.getValue();
                            }
                        }
                        Leases.Others o = capacity.ensureRoom(unreserved, keep, keepKeys, batchBlobs);
                        if (o != Capacity.NO_OTHERS) {
                            others = o;
                        }
                    } catch (IOException | IllegalArgumentException ex) {
                        out.add(new Outcome(pe, null, ex));
                        continue;
                    }
                    long now = config.clock().getAsLong();
                    Entry e = new Entry(pe.key(), pe.files(), now, now, pe.provenance());
                    records.add(JournalRecord.Commit.of(e));
                    Index.Removal replaced = index.put(e);
                    if (replaced != null) {
                        removals.add(replaced);
                    }
                    Long budget = groupBudgets.get(pe.key().group());
                    if (budget != null) {
                        if (others == Capacity.NO_OTHERS) {
                            others = pinning.others(); // their pins matter to a group eviction
                        }
                        List<Index.Removal> ev =
                                index.evictGroup(pe.key().group(), budget, pinning.pinned(others, keep));
                        removals.addAll(ev);
                        for (Index.Removal r : ev) {
                            records.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
                        }
                    }
                    synced.addAll(fresh.keySet());
                    out.add(new Outcome(pe, e, null));
                }
                if (index.heapEstimate() > config.indexHeap()) {
                    if (others == Capacity.NO_OTHERS) {
                        others = pinning.others();
                    }
                    List<Index.Removal> ev = index.evictToHeap(
                            config.indexHeap() - config.indexHeap() / 20, pinning.pinned(others, keep));
                    log.warn(
                            "index at its heap ceiling ({} MiB of {} max heap): evicted {} least recently used entries",
                            config.indexHeap() >> 20,
                            Runtime.getRuntime().maxMemory() >> 20,
                            ev.size());
                    removals.addAll(ev);
                    for (Index.Removal r : ev) {
                        records.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
                    }
                }
                // Every blob first named here is durable, bytes and name, before the record is.
                blobs.syncBlobs(synced);
                journal.append(records, true);
            } catch (IOException | RuntimeException ex) {
                journal.reloadAfterFailure(ex);
                throw ex;
            }
            capacity.committed(synced);
            deleteFreed(removals);
            writeLease();
            if (capacity.usage(others) > capacity.softLimitNow()) {
                scheduleBackgroundEviction();
            }
            return out;
        });
    }

    /** The entry's blobs not yet in the index, with their sizes; checks each is on disk with the stated size. */
    private Map<Address, Long> freshBlobs(Pending pe) throws IOException {
        Map<Address, Long> fresh = new LinkedHashMap<>();
        for (EntryFile f : pe.files()) {
            if (index.hasBlob(f.address()) || fresh.containsKey(f.address())) {
                continue;
            }
            long size;
            try {
                size = Files.size(blobs.path(f.address()));
            } catch (NoSuchFileException e) {
                throw new BlobMissingException("cannot commit " + pe.key() + ": blob " + f.address() + " of " + f.path()
                        + " is not in the store (put it again)");
            }
            if (size != f.size()) {
                throw new IllegalArgumentException(
                        "size of " + f.path() + " given as " + f.size() + " but its blob holds " + size + " bytes");
            }
            fresh.put(f.address(), size);
        }
        return fresh;
    }

    private boolean holdsAny(EntryKey k, Set<Address> blobsOfInterest) {
        Entry e = index.get(k);
        if (e == null) {
            return false;
        }
        for (EntryFile f : e.files()) {
            if (blobsOfInterest.contains(f.address())) {
                return true;
            }
        }
        return false;
    }

    /** The entry, or null. Records a hit or a miss but not a use: a use is a read ({@link #recordUse}). */
    public Entry lookup(EntryKey key) {
        mutex.lock();
        try {
            Entry e = index.get(key);
            (e == null ? misses : hits).increment();
            return e;
        } finally {
            mutex.unlock();
        }
    }

    /**
     * Records that an entry was used. Cheap and lock-free: queued and applied (and journaled, without
     * fsync: a lost use only makes an entry look older) at the next locked operation or {@link #sync()}.
     */
    public void recordUse(EntryKey key) {
        touches.add(new JournalRecord.Touch(key, config.clock().getAsLong()));
    }

    /** Removes an entry on request. Returns false when it was not there. */
    public boolean delete(EntryKey key) throws IOException {
        return locked(() -> {
            Index.Removal r = index.remove(key, EvictionCause.DELETED);
            if (r == null) {
                return false;
            }
            journal.appendDurably(List.of(new JournalRecord.Remove(key, EvictionCause.DELETED)));
            deleteFreed(List.of(r));
            return true;
        });
    }

    /** Sets (or clears, with null) a group's budget in logical bytes; enforced at its next commit and by {@link #evictTo}. */
    public void setGroupBudget(GroupId group, Long bytes) {
        if (bytes == null) {
            groupBudgets.remove(group);
        } else {
            groupBudgets.put(group, bytes);
        }
    }

    /** A snapshot of a group's entries, least recently used first. */
    public List<Entry> entries(GroupId group) {
        mutex.lock();
        try {
            return new ArrayList<>(index.entries(group));
        } finally {
            mutex.unlock();
        }
    }

    // ---------------------------------------------------------------- pins

    /** Pins entries (that exist now) against eviction, for this process and every other on the root. */
    public Pin pin(Collection<EntryKey> keys) throws IOException {
        List<EntryKey> list = List.copyOf(keys);
        locked(() -> {
            pinning.pin(list);
            writeLease();
            return null;
        });
        return new Pin(this, list);
    }

    void unpin(List<EntryKey> keys) throws IOException {
        locked(() -> {
            pinning.unpin(keys);
            writeLease();
            return null;
        });
    }

    /** A group's entries that pass the filter, pinned in the same locked step (so none can vanish in between). */
    public record Pinned(List<Entry> entries, Pin pin) {}

    public Pinned pinGroup(GroupId group, Predicate<Entry> filter) throws IOException {
        return locked(() -> {
            List<Entry> list = new ArrayList<>();
            for (Entry e : index.entries(group)) {
                if (filter.test(e)) {
                    list.add(e);
                }
            }
            List<EntryKey> keys = new ArrayList<>(list.size());
            for (Entry e : list) {
                keys.add(e.key());
            }
            pinning.pin(keys);
            writeLease();
            return new Pinned(list, new Pin(this, keys));
        });
    }

    private void writeLease() throws IOException {
        pinning.writeLease(capacity.ownReserved());
    }

    // ---------------------------------------------------------------- eviction

    /**
     * Evicts least recently used unpinned entries until the store holds at most {@code targetBytes}
     * (plus reservations), and every group is within its budget. Returns what was evicted.
     */
    public List<Evicted> evictTo(long targetBytes) throws IOException {
        return locked(() -> {
            Leases.Others others = pinning.others();
            Predicate<EntryKey> pinned = pinning.pinned(others, k -> false);
            List<Index.Removal> removals = new ArrayList<>();
            for (Map.Entry<GroupId, Long> b : groupBudgets.entrySet()) {
                removals.addAll(index.evictGroup(b.getKey(), b.getValue(), pinned));
            }
            long reservations = capacity.reservations(others);
            removals.addAll(index.evictNode(Math.max(0, targetBytes - reservations), pinned));
            retire(removals);
            List<Evicted> out = new ArrayList<>(removals.size());
            for (Index.Removal r : removals) {
                out.add(new Evicted(r.entry().key(), r.cause(), r.freedBytes()));
            }
            return out;
        });
    }

    private void scheduleBackgroundEviction() {
        if (!closed && evictionQueued.compareAndSet(false, true)) {
            try {
                evictor.execute(() -> {
                    evictionQueued.set(false);
                    try {
                        evictTo(capacity.followsDisk() ? locked(capacity::softLimitNow) : config.softLimit());
                    } catch (IOException | RuntimeException e) {
                        log.warn("background eviction failed: {}", e.toString());
                    }
                });
            } catch (RejectedExecutionException closing) {
                // close() stopped the evictor before its own locked step: what it just committed stands
                evictionQueued.set(false);
            }
        }
    }

    /** Makes removals durable, then deletes the blobs they freed. Under the lock. */
    private void retire(List<Index.Removal> removals) throws IOException {
        if (removals.isEmpty()) {
            return;
        }
        List<JournalRecord> records = new ArrayList<>(removals.size());
        for (Index.Removal r : removals) {
            records.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
        }
        journal.appendDurably(records);
        deleteFreed(removals);
    }

    /** Deletes blobs that removals left unreferenced. Under the lock, after the removals are durable. */
    private void deleteFreed(List<Index.Removal> removals) {
        for (Index.Removal r : removals) {
            evictions.get(r.cause()).increment();
            for (Address a : r.freedBlobs()) {
                if (!index.hasBlob(a)) {
                    deleteFreedBlob(a);
                }
            }
        }
    }

    /** Deletes a blob no entry names any more; if that fails, the next open scans for it. */
    private void deleteFreedBlob(Address a) {
        try {
            blobs.delete(a);
        } catch (IOException e) {
            orphansLeft = true;
            log.warn("could not delete freed blob {}: {} (the next sweep retries)", a, e.toString());
        }
    }

    // ---------------------------------------------------------------- verify, stats, sync

    /**
     * Re-hashes these blobs only (ones a workload may have written through a link) and settles
     * those found damaged as {@link #verify()} does: a blob whose bytes no longer match its address
     * is quarantined and the entries naming it dropped; one whose bytes match but whose mode or
     * owner changed is sealed again. Other blobs are not read. Returns whether any blob was
     * quarantined.
     */
    public boolean recheck(Collection<Address> suspects) {
        List<Address> found = reconciler.damaged(suspects);
        if (found.isEmpty()) {
            return false;
        }
        try {
            Reconciler.Damage d = locked(() -> reconciler.settle(found));
            if (!d.quarantined().isEmpty()) {
                log.error("a workload modified linked blobs in place; quarantined {}", d.quarantined());
            }
            return !d.quarantined().isEmpty();
        } catch (IOException e) {
            log.warn("could not settle damaged blobs {}: {}", found, e.toString());
            return true;
        }
    }

    /**
     * Re-hashes every blob (in parallel, outside the lock) and checks its mode and owner. A blob
     * whose bytes do not match its address is moved to quarantine and every entry using it is
     * dropped, so it is never served again; one whose bytes match but that is no longer read-only
     * or no longer the store's user's (a workload's {@code chmod -R} or {@code chown -R} through a
     * link) is sealed again. Also drops entries whose blobs are missing and reports stray files.
     */
    public VerifyReport verify() throws IOException {
        Reconciler.Hashed h = reconciler.hashAll();
        return locked(() -> reconciler.finishVerify(h));
    }

    /** Applies queued uses and other processes' journal records now. */
    public void sync() throws IOException {
        locked(() -> null);
    }

    public StoreStats stats() throws IOException {
        return locked(() -> {
            Leases.Others others = pinning.others();
            List<StoreStats.Group> groups = new ArrayList<>();
            for (GroupId g : index.groups()) {
                groups.add(new StoreStats.Group(
                        g, index.groupEntries(g), index.groupBytes(g), groupBudgets.get(g), index.groupLastUse(g)));
            }
            groups.sort((a, b) -> a.group().text().compareTo(b.group().text()));
            Map<EvictionCause, Long> ev = new EnumMap<>(EvictionCause.class);
            evictions.forEach((c, n) -> ev.put(c, n.sum()));
            return new StoreStats(
                    index.entryCount(),
                    index.blobCount(),
                    index.uniqueBytes(),
                    capacity.reservations(others),
                    config.hardLimit(),
                    config.softLimit(),
                    journal.size(),
                    index.heapEstimate(),
                    index.offHeapBytes(),
                    hits.sum(),
                    misses.sum(),
                    ev,
                    groups);
        });
    }

    /** Forces a compaction now (normally automatic). */
    public void compactNow() throws IOException {
        locked(() -> {
            journal.compact();
            return null;
        });
    }

    // ---------------------------------------------------------------- the lock

    /** Runs {@code body} under the mutex and the file lock, on the store's thread. */
    private <T> T locked(StoreThread.Work<T> body) throws IOException {
        return thread.call(() -> lockedHere(body));
    }

    private <T> T lockedHere(StoreThread.Work<T> body) throws IOException {
        mutex.lock();
        try {
            if (closed) {
                throw new IllegalStateException("store is closed");
            }
            try (FileLock ignored = lockChannel.lock()) {
                refresh();
                T result = body.call();
                if (pinning.stale()) {
                    writeLease();
                }
                return result;
            }
        } finally {
            mutex.unlock();
        }
    }

    /** Brings the index up to the journal's end and applies queued uses. Under the lock. */
    private void refresh() throws IOException {
        if (journal.catchUp(() -> pinning.pinned(pinning.others(), k -> false)) > 0
                && capacity.dropCommittedElsewhere()) {
            pinning.markStale();
        }
        int overflow = journal.drainReplayEvictions();
        if (overflow > 0) {
            evictions.get(EvictionCause.MEMORY).add(overflow);
            orphansLeft = true; // the blobs they held: the open's scan (or the next open's) deletes them
            log.warn(
                    "the journal holds more entries than {} MiB of heap can index: evicted {} least recently used ({} left)",
                    config.indexHeap() >> 20,
                    overflow,
                    index.entryCount());
        }
        if (!touches.isEmpty()) {
            List<JournalRecord.Touch> batch = new ArrayList<>();
            JournalRecord.Touch t;
            while ((t = touches.poll()) != null) {
                if (index.touch(t.key(), t.time())) {
                    batch.add(t);
                }
            }
            journal.append(batch, false);
        }
        journal.compactIfDue();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        evictor.shutdown();
        try {
            evictor.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            locked(() -> {
                // blobs put but never committed by this process: nothing refers to them
                for (Address a : capacity.drainPending()) {
                    if (!index.hasBlob(a)) {
                        blobs.delete(a);
                    }
                }
                journal.force(); // uses were appended without force
                if (reconciler.mayMarkClean(orphansLeft)) {
                    journal.writeSnapshot();
                    reconciler.markClean(orphansLeft);
                }
                return null;
            });
        } finally {
            closeQuietly();
        }
    }

    private void closeQuietly() {
        mutex.lock();
        try {
            closed = true;
            evictor.shutdownNow();
            for (Closeable c : new Closeable[] {journal, pinning, lockChannel}) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (IOException ignored) {
                    // closing
                }
            }
        } finally {
            mutex.unlock();
            thread.close();
            OPEN.remove(root);
        }
    }
}
