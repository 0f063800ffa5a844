package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import io.mithril.agent.index.Journal;
import io.mithril.agent.index.JournalRecord;
import io.mithril.agent.key.GroupId;
import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
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
 *   leases/ID.lease        each live process's pins and reservations ({@link Leases})
 *   tmp/, quarantine/      in-flight writes; blobs that failed verification
 * </pre>
 *
 * <h2>Invariants and why they survive a crash</h2>
 * <ul>
 *   <li>An entry is committed when its Commit record is forced to the journal, and that happens only
 *       after every blob it names was fsynced and renamed into place and found present under the
 *       lock. So a replayed entry never names a missing blob unless something outside Mithril
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
 * ({@link #hardLimitNow}); the soft limit follows it at 90 %. Bytes on disk that are also counted as
 * reservations (written, not yet committed) are counted twice, so the guard errs towards stopping early.
 *
 * <h2>Concurrency</h2>
 * One instance per root per process (enforced); any number of threads and processes. Lock order:
 * the in-process mutex, then the file lock. Blob writes (hashing, I/O, fsync) run outside both.
 * Within the lock each process first replays the journal records other processes appended, so its
 * index is current for every decision. Lookups take only the mutex and see this process's view,
 * as of its last locked operation or {@link #sync()}.
 */
public final class NodeStore implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(NodeStore.class);
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();
    private static final String MARKER = "mithril-store";
    private static final int FORMAT = 1;
    private static final java.util.regex.Pattern LAYOUT = java.util.regex.Pattern.compile(
            "mithril-store(\\..*\\.tmp)?|lock|leases|blobs|tmp|quarantine|CURRENT(\\.tmp)?|journal\\.\\d+|"
            + io.mithril.agent.fs.NodeRoot.PATTERN.pattern());

    private final Path root;
    private final StoreConfig config;
    private final BlobStore blobs;
    /** The store's user: the owner of its root folder. Blobs are read-only (0444) and this user's. */
    private final int ownerUid;
    /** This process's user, who owns the blobs it writes (the store's user, unless someone else opened the store). */
    private final int processUid;
    private final Index index = new Index();
    private final Leases leases;
    private final java.util.concurrent.locks.ReentrantLock mutex = new java.util.concurrent.locks.ReentrantLock();
    private final FileChannel lockChannel;
    /** The filesystem under the root, for the free-space reserve; null when there is none. */
    private final FileStore fileStore;
    private final Map<EntryKey, Integer> ownPins = new HashMap<>();
    /** Blobs this process wrote and has not committed yet, with their sizes; reserved against the limit. */
    private final Map<Address, Long> pendingBlobs = new HashMap<>();
    private long pendingBytes;
    private final ConcurrentLinkedQueue<JournalRecord.Touch> touches = new ConcurrentLinkedQueue<>();
    private final Map<GroupId, Long> groupBudgets = new ConcurrentHashMap<>();
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final Map<EvictionCause, LongAdder> evictions = new EnumMap<>(EvictionCause.class);
    private final ExecutorService evictor;
    private final AtomicBoolean evictionQueued = new AtomicBoolean();
    private Journal journal;
    private long journalGen;
    private long journalOffset;
    private long recordsSinceCompaction;
    private long inflight;
    /** The lease file announces more than this process holds now; rewritten at the next locked operation. */
    private boolean leaseStale;
    private boolean closed;
    private static final Leases.Others NO_OTHERS = new Leases.Others(Set.of(), 0, Set.of());

    private NodeStore(Path root, StoreConfig config) throws IOException {
        this.root = root;
        this.config = config;
        for (EvictionCause c : EvictionCause.values()) {
            evictions.put(c, new LongAdder());
        }
        this.lockChannel = FileChannel.open(root.resolve("lock"), Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                StorePermissions.PRIVATE_FILE);
        this.fileStore = config.freeSpaceReserve().isNone() ? null : Files.getFileStore(root);
        // Created under the store lock: another process's readOthers() must never see our lease
        // file between its creation and our lock on it (it would take it for a dead one).
        try (FileLock ignored = lockChannel.lock()) {
            this.leases = new Leases(root);
        }
        this.blobs = new BlobStore(root, leases.id(), config.faults());
        this.ownerUid = (Integer) Files.getAttribute(root, "unix:uid");
        this.processUid = processUid(ownerUid);
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
        initLayout(real);
        StorePermissions.apply(real);
        if (!OPEN.add(real)) {
            throw new IllegalStateException("store " + real + " is already open in this process");
        }
        NodeStore s = null;
        try {
            s = new NodeStore(real, config);
            NodeStore st = s;
            s.locked(() -> {
                if (config.reconcileOnOpen()) {
                    st.reconcile();
                }
                return null;
            });
            return s;
        } catch (IOException | RuntimeException e) {
            if (s != null) {
                s.closeQuietly();
            } else {
                OPEN.remove(real);
            }
            throw e;
        }
    }

    private static void initLayout(Path root) throws IOException {
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
        Path tmp = root.resolve(MARKER + "." + java.util.UUID.randomUUID() + ".tmp");
        Files.writeString(tmp, "format " + FORMAT + "\n");
        Files.move(tmp, marker, StandardCopyOption.ATOMIC_MOVE);
        BlobStore.fsyncDir(root);
    }

    public Path root() {
        return root;
    }

    public StoreConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- blobs (the seed's API)

    /** Stores bytes; returns their address. Identical content is stored once. */
    public Address put(byte[] bytes) throws IOException {
        return put(new ByteArrayInputStream(bytes), bytes.length).address();
    }

    /** Stores a regular file's bytes (never following a symlink). */
    public BlobStore.Written putFile(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            return put(in, Files.size(file));
        }
    }

    /**
     * Stores a stream. {@code sizeHint} (or -1) lets the reservation be taken in one step; the
     * stream may be longer, in which case the reservation grows as it is read.
     */
    public BlobStore.Written put(InputStream in, long sizeHint) throws IOException {
        long[] reserved = {0};
        try {
            if (sizeHint > 0) {
                reserve(sizeHint);
                reserved[0] = sizeHint;
            }
            BlobStore.Written w = blobs.write(in, total -> {
                if (total > reserved[0]) {
                    long step = Math.max(total - reserved[0], Math.min(Math.max(reserved[0], 1 << 20), 64L << 20));
                    try {
                        reserve(step);
                    } catch (StoreFullException full) {
                        step = total - reserved[0];
                        reserve(step);
                    }
                    reserved[0] += step;
                }
            });
            long r = reserved[0];
            reserved[0] = 0;
            // Only the in-process mutex: the lease keeps announcing the old total until the next
            // locked operation rewrites it, and that total is never lower than the truth (the
            // reservation moves to the written blob, or is released), so others stay safe.
            mutex.lock();
            try {
                inflight -= r;
                if (!w.existed() && !index.hasBlob(w.address()) && pendingBlobs.putIfAbsent(w.address(), w.size()) == null) {
                    pendingBytes += w.size();
                }
                leaseStale = true;
            } finally {
                mutex.unlock();
            }
            return w;
        } finally {
            if (reserved[0] > 0) {
                long r = reserved[0];
                locked(() -> {
                    inflight -= r;
                    writeLease();
                    return null;
                });
            }
        }
    }

    private void reserve(long bytes) throws IOException {
        locked(() -> {
            ensureRoom(bytes, k -> false, Set.of(), Set.of());
            inflight += bytes;
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
                Long size = pendingBlobs.remove(a);
                if (size != null) {
                    pendingBytes -= size;
                    if (!index.hasBlob(a)) {
                        blobs.delete(a);
                    }
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
                BlobStore.Written w = putFile(f.source());
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
            Leases.Others others = NO_OTHERS;
            try {
                for (Pending pe : batch) {
                    Map<Address, Long> fresh;
                    try {
                        fresh = freshBlobs(pe);
                        long unreserved = 0;
                        for (Map.Entry<Address, Long> x : fresh.entrySet()) {
                            if (!pendingBlobs.containsKey(x.getKey())) {
                                unreserved += x.getValue();
                            }
                        }
                        Leases.Others o = ensureRoom(unreserved, keep, keepKeys, batchBlobs);
                        if (o != NO_OTHERS) {
                            others = o;
                        }
                    } catch (IOException | IllegalArgumentException ex) {
                        out.add(new Outcome(pe, null, ex));
                        continue;
                    }
                    blobs.syncShards(fresh.keySet());
                    long now = config.clock().getAsLong();
                    Entry e = new Entry(pe.key(), pe.files(), now, now, pe.provenance());
                    records.add(JournalRecord.Commit.of(e));
                    Index.Removal replaced = index.put(e);
                    if (replaced != null) {
                        removals.add(replaced);
                    }
                    Long budget = groupBudgets.get(pe.key().group());
                    if (budget != null) {
                        if (others == NO_OTHERS) {
                            others = leases.readOthers(); // their pins matter to a group eviction
                        }
                        List<Index.Removal> ev = index.evictGroup(pe.key().group(), budget, pinnedPredicate(others, keep));
                        removals.addAll(ev);
                        for (Index.Removal r : ev) {
                            records.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
                        }
                    }
                    synced.addAll(fresh.keySet());
                    out.add(new Outcome(pe, e, null));
                }
                journalAppend(records, true);
            } catch (IOException | RuntimeException ex) {
                reloadAfterFailure(ex);
                throw ex;
            }
            for (Address a : synced) {
                Long size = pendingBlobs.remove(a);
                if (size != null) {
                    pendingBytes -= size;
                }
            }
            deleteFreed(removals);
            writeLease();
            if (usage(others) > softLimitNow()) {
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
                throw new BlobMissingException("cannot commit " + pe.key() + ": blob " + f.address() + " of "
                        + f.path() + " is not in the store (put it again)");
            }
            if (size != f.size()) {
                throw new IllegalArgumentException("size of " + f.path() + " given as " + f.size()
                        + " but its blob holds " + size + " bytes");
            }
            fresh.put(f.address(), size);
        }
        return fresh;
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

    /** Pins entries (that exist now) against eviction, for this process and every other on the root. */
    public Pin pin(Collection<EntryKey> keys) throws IOException {
        List<EntryKey> list = List.copyOf(keys);
        locked(() -> {
            for (EntryKey k : list) {
                ownPins.merge(k, 1, Integer::sum);
            }
            writeLease();
            return null;
        });
        return new Pin(this, list);
    }

    void unpin(List<EntryKey> keys) throws IOException {
        locked(() -> {
            for (EntryKey k : keys) {
                ownPins.computeIfPresent(k, (x, n) -> n == 1 ? null : n - 1);
            }
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
                ownPins.merge(e.key(), 1, Integer::sum);
            }
            writeLease();
            return new Pinned(list, new Pin(this, keys));
        });
    }

    /** Removes an entry on request. Returns false when it was not there. */
    public boolean delete(EntryKey key) throws IOException {
        return locked(() -> {
            Index.Removal r = index.remove(key, EvictionCause.DELETED);
            if (r == null) {
                return false;
            }
            try {
                journalAppend(List.of(new JournalRecord.Remove(key, EvictionCause.DELETED)), true);
            } catch (IOException ex) {
                reloadAfterFailure(ex);
                throw ex;
            }
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

    // ---------------------------------------------------------------- eviction

    /**
     * Evicts least recently used unpinned entries until the store holds at most {@code targetBytes}
     * (plus reservations), and every group is within its budget. Returns what was evicted.
     */
    public List<Index.Removal> evictTo(long targetBytes) throws IOException {
        return locked(() -> {
            Leases.Others others = leases.readOthers();
            Predicate<EntryKey> pinned = pinnedPredicate(others, k -> false);
            List<Index.Removal> removals = new ArrayList<>();
            for (Map.Entry<GroupId, Long> b : groupBudgets.entrySet()) {
                removals.addAll(index.evictGroup(b.getKey(), b.getValue(), pinned));
            }
            long reservations = usage(others) - index.uniqueBytes();
            removals.addAll(index.evictNode(Math.max(0, targetBytes - reservations), pinned));
            journalRemovals(removals);
            deleteFreed(removals);
            return removals;
        });
    }

    private void scheduleBackgroundEviction() {
        if (!closed && evictionQueued.compareAndSet(false, true)) {
            evictor.execute(() -> {
                evictionQueued.set(false);
                try {
                    evictTo(fileStore == null ? config.softLimit() : locked(this::softLimitNow));
                } catch (IOException | RuntimeException e) {
                    log.warn("background eviction failed: {}", e.toString());
                }
            });
        }
    }

    /** Makes room for {@code bytes} more under the hard limit, evicting if needed. Under the lock. */
    private Leases.Others ensureRoom(long bytes, Predicate<EntryKey> alsoPinned, Set<EntryKey> alsoKeys,
            Set<Address> keepBlobs) throws IOException {
        if (config.hardLimit() >= StoreConfig.UNLIMITED && fileStore == null) {
            return NO_OTHERS; // no limit: other processes' reservations cannot matter
        }
        Leases.Others others = leases.readOthers();
        long limit = hardLimitNow();
        if (bytes == 0 || usage(others) + bytes <= limit) {
            return others;
        }
        long reservations = usage(others) - index.uniqueBytes();
        Predicate<EntryKey> pinned = pinnedPredicate(others, alsoPinned);
        // Evict only if that can succeed: never empty the cache for a write that cannot fit anyway.
        if (reservations + pinnedBytes(others, alsoKeys, keepBlobs) + bytes <= limit) {
            List<Index.Removal> removals = index.evictNode(limit - reservations - bytes, pinned);
            journalRemovals(removals);
            deleteFreed(removals);
            limit = hardLimitNow(); // eviction freed space on the filesystem too (blobs no live view links)
        }
        if (usage(others) + bytes > limit) {
            String which = limit < config.hardLimit()
                    ? "the " + config.freeSpaceReserve() + " free-space reserve of the filesystem (a limit of " + ByteSize.format(limit) + " now)"
                    : "the hard limit of " + ByteSize.format(limit);
            throw new StoreFullException(String.format(
                    "store full: %s more would exceed %s (%s committed, %s reserved by writes in flight; the rest is pinned by live views)",
                    ByteSize.format(bytes), which, ByteSize.format(index.uniqueBytes()), ByteSize.format(reservations)));
        }
        return others;
    }

    /** Room the journal, lease files and directories may take beyond the blobs; kept free with the reserve. */
    static final long METADATA_MARGIN = 1L << 20;

    /**
     * The hard limit in force: the configured one, or less when the filesystem's usable space (statvfs)
     * would otherwise fall under the free-space reserve. Under the lock.
     */
    private long hardLimitNow() throws IOException {
        if (fileStore == null) {
            return config.hardLimit();
        }
        long keep = config.freeSpaceReserve().of(fileStore.getTotalSpace()) + METADATA_MARGIN;
        long room = index.uniqueBytes() + fileStore.getUsableSpace() - keep;
        return Math.max(0, Math.min(config.hardLimit(), room));
    }

    /** The soft limit in force: the configured one, or 90 % of a hard limit the reserve lowered. Under the lock. */
    private long softLimitNow() throws IOException {
        long hard = hardLimitNow();
        return hard < config.hardLimit() ? Math.min(config.softLimit(), hard / 10 * 9) : config.softLimit();
    }

    /**
     * Unique bytes that eviction cannot free: blobs of pinned entries and blobs an incoming batch
     * names. Cost is in the number of pins, not the size of the index.
     */
    private long pinnedBytes(Leases.Others others, Set<EntryKey> alsoKeys, Set<Address> keepBlobs) {
        Set<EntryKey> keys = new HashSet<>(ownPins.keySet());
        keys.addAll(others.pinned());
        keys.addAll(alsoKeys);
        Set<Address> held = new HashSet<>();
        long total = 0;
        for (EntryKey k : keys) {
            Entry e = index.get(k);
            if (e == null) {
                continue;
            }
            for (EntryFile f : e.files()) {
                if (held.add(f.address())) {
                    total += f.size();
                }
            }
        }
        for (Address a : keepBlobs) {
            Index.BlobRef b = index.blob(a);
            if (b != null && held.add(a)) {
                total += b.size();
            }
        }
        return total;
    }

    private long usage(Leases.Others others) {
        return index.uniqueBytes() + inflight + pendingBytes + others.reserved();
    }

    private Predicate<EntryKey> pinnedPredicate(Leases.Others others, Predicate<EntryKey> also) {
        return k -> ownPins.containsKey(k) || others.pinned().contains(k) || also.test(k);
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

    private void journalRemovals(List<Index.Removal> removals) throws IOException {
        if (removals.isEmpty()) {
            return;
        }
        List<JournalRecord> records = new ArrayList<>(removals.size());
        for (Index.Removal r : removals) {
            records.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
        }
        try {
            journalAppend(records, true);
        } catch (IOException ex) {
            reloadAfterFailure(ex);
            throw ex;
        }
    }

    /** Removes from the index every entry that names {@code a}, adding the removals to {@code into}. Under the lock. */
    private void removeReferring(Address a, EvictionCause cause, List<Index.Removal> into) {
        for (EntryKey k : index.entriesReferring(a)) {
            Index.Removal r = index.remove(k, cause);
            if (r != null) {
                into.add(r);
            }
        }
    }

    /** Deletes blobs that removals left unreferenced. Under the lock, after the removals are durable. */
    private void deleteFreed(List<Index.Removal> removals) {
        for (Index.Removal r : removals) {
            evictions.get(r.cause()).increment();
            for (Address a : r.freedBlobs()) {
                if (index.hasBlob(a)) {
                    continue;
                }
                try {
                    blobs.delete(a);
                } catch (IOException e) {
                    log.warn("could not delete freed blob {}: {} (the next sweep retries)", a, e.toString());
                }
            }
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
        List<Address> found = new ArrayList<>();
        for (Address a : suspects) {
            try {
                if (exists(a) && !sound(blobs.inspect(a))) {
                    found.add(a);
                }
            } catch (NoSuchFileException gone) {
                // evicted meanwhile
            } catch (IOException e) {
                log.warn("could not re-check blob {}: {}", a, e.toString());
            }
        }
        if (found.isEmpty()) {
            return false;
        }
        try {
            Damage d = locked(() -> settle(found));
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
        List<Address> all = new ArrayList<>();
        List<Path> stray = new ArrayList<>();
        blobs.scan(all::add, stray::add);
        List<Address> found = java.util.Collections.synchronizedList(new ArrayList<>());
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
        return locked(() -> {
            Damage d = settle(found);
            int[] orphans = {0};
            Set<Address> now = new HashSet<>(); // listed again under the lock: commits made while hashing count
            blobs.scan(now::add, p -> { });
            List<EntryKey> dropped = new ArrayList<>(d.dropped());
            dropped.addAll(dropLost(now, orphans));
            return new VerifyReport(all.size(), bytes.sum(), d.quarantined(), dropped, stray, orphans[0], d.repaired());
        });
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

    /** What {@link #settle} did: blobs quarantined, the entries that dropped with them, blobs sealed again. */
    private record Damage(List<Address> quarantined, List<EntryKey> dropped, List<Address> repaired) {}

    /**
     * Under the lock: looks again at blobs found damaged outside it (one may have been evicted, or
     * put again whole, meanwhile). A blob whose bytes do not match is quarantined and every entry
     * naming it dropped (cause CORRUPT), durably, before the blobs those entries alone held are
     * deleted. A blob whose bytes match but whose mode or owner is wrong is sealed again; if that
     * fails (no right to change the owner), it is quarantined too, since its owner could rewrite it.
     */
    private Damage settle(Collection<Address> found) throws IOException {
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
                    log.warn("blob {} had mode {} and owner uid {}; restored 0444 and uid {}", a,
                            Integer.toOctalString(i.mode()), i.uid(), uid);
                    repaired.add(a);
                    continue;
                } catch (IOException e) {
                    log.error("blob {} has mode {} and owner uid {} and cannot be sealed again ({}); quarantining it", a,
                            Integer.toOctalString(i.mode()), i.uid(), e.toString());
                }
            }
            Path q = blobs.quarantine(a);
            log.error("blob {} {}; moved to {}", a, i.matches() ? "cannot be protected" : "does not match its address", q);
            quarantined.add(a);
            removeReferring(a, EvictionCause.CORRUPT, removals);
        }
        journalRemovals(removals);
        deleteFreed(removals);
        List<EntryKey> dropped = new ArrayList<>();
        removals.forEach(r -> dropped.add(r.entry().key()));
        return new Damage(quarantined, dropped, repaired);
    }

    /** Applies queued uses and other processes' journal records now. */
    public void sync() throws IOException {
        locked(() -> null);
    }

    public StoreStats stats() throws IOException {
        return locked(() -> {
            Leases.Others others = leases.readOthers();
            List<StoreStats.Group> groups = new ArrayList<>();
            for (GroupId g : index.groups()) {
                groups.add(new StoreStats.Group(g, index.groupEntries(g), index.groupBytes(g), groupBudgets.get(g),
                        index.groupLastUse(g)));
            }
            groups.sort((a, b) -> a.group().text().compareTo(b.group().text()));
            Map<EvictionCause, Long> ev = new EnumMap<>(EvictionCause.class);
            evictions.forEach((c, n) -> ev.put(c, n.sum()));
            return new StoreStats(index.entryCount(), index.blobCount(), index.uniqueBytes(),
                    usage(others) - index.uniqueBytes(), config.hardLimit(), config.softLimit(), journal.size(),
                    hits.sum(), misses.sum(), ev, groups);
        });
    }

    // ---------------------------------------------------------------- lock, journal, reconcile

    @FunctionalInterface
    private interface IoCallable<T> {
        T call() throws IOException;
    }

    private <T> T locked(IoCallable<T> body) throws IOException {
        mutex.lock();
        try {
            if (closed) {
                throw new IllegalStateException("store is closed");
            }
            try (FileLock ignored = lockChannel.lock()) {
                refresh();
                T result = body.call();
                if (leaseStale) {
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
        long gen = readCurrentGen();
        if (journal == null || gen != journalGen) {
            if (journal != null) {
                journal.close();
            }
            Path file = root.resolve("journal." + gen);
            StorePermissions.createPrivateFile(file);
            journal = new Journal(file);
            journalGen = gen;
            journalOffset = 0;
            recordsSinceCompaction = 0;
            index.clear();
        }
        Journal.Replay r = journal.replay(journalOffset, this::apply);
        if (r.undecodable()) {
            throw new IOException("journal " + journal.file() + " has a record this agent cannot read at offset "
                    + r.endOffset() + " (written by a newer Mithril?); refusing to touch the store");
        }
        if (r.torn()) {
            log.warn("journal {} has a torn tail at {} (a writer died mid-append); cutting it off",
                    journal.file().getFileName(), r.endOffset());
            journal.truncate(r.endOffset());
        }
        journalOffset = r.endOffset();
        recordsSinceCompaction += r.records();
        if (r.records() > 0 && !pendingBlobs.isEmpty()) {
            // blobs this process wrote that another process committed first are no longer in flight
            pendingBlobs.entrySet().removeIf(x -> {
                if (index.hasBlob(x.getKey())) {
                    pendingBytes -= x.getValue();
                    leaseStale = true;
                    return true;
                }
                return false;
            });
        }
        if (!touches.isEmpty()) {
            List<JournalRecord.Touch> batch = new ArrayList<>();
            JournalRecord.Touch t;
            while ((t = touches.poll()) != null) {
                if (index.touch(t.key(), t.time())) {
                    batch.add(t);
                }
            }
            journalAppend(batch, false);
        }
        if (recordsSinceCompaction > 2L * index.entryCount() + 100_000) {
            try {
                compact();
            } catch (IOException e) {
                // Only an optimisation: never let it block the operation (a full disk must still gc).
                log.warn("journal compaction failed ({}); continuing on generation {}", e.toString(), journalGen);
                try {
                    Files.deleteIfExists(root.resolve("journal." + (journalGen + 1)));
                } catch (IOException ignored) {
                    // next attempt overwrites it
                }
                recordsSinceCompaction = index.entryCount();
            }
        }
    }

    private void apply(JournalRecord rec) {
        if (rec instanceof JournalRecord.Commit c) {
            index.put(c.toEntry());
        } else if (rec instanceof JournalRecord.Remove rm) {
            index.remove(rm.key(), rm.cause());
        } else if (rec instanceof JournalRecord.Touch t) {
            index.touch(t.key(), t.time());
        }
    }

    private void journalAppend(List<? extends JournalRecord> records, boolean force) throws IOException {
        journal.append(records, force);
        journalOffset = journal.size();
        recordsSinceCompaction += records.size();
    }

    /** After a failed journal write the in-memory index may be ahead of the disk: rebuild it. */
    private void reloadAfterFailure(Exception cause) {
        log.warn("journal write failed ({}); reloading the index from the journal", cause.toString());
        index.clear();
        journalOffset = 0;
        recordsSinceCompaction = 0;
        try {
            Journal.Replay r = journal.replay(0, this::apply);
            journalOffset = r.endOffset();
            if (r.torn()) {
                journal.truncate(r.endOffset());
            }
        } catch (IOException e) {
            log.error("could not reload the index: {}", e.toString());
        }
    }

    private long readCurrentGen() throws IOException {
        Path cur = root.resolve("CURRENT");
        try {
            return Long.parseLong(Files.readString(cur, StandardCharsets.US_ASCII).trim());
        } catch (NoSuchFileException e) {
            writeCurrent(1);
            return 1;
        } catch (NumberFormatException e) {
            throw new IOException("store file CURRENT is damaged: " + e.getMessage());
        }
    }

    private void writeCurrent(long gen) throws IOException {
        Path tmp = root.resolve("CURRENT.tmp");
        try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING), StorePermissions.PRIVATE_FILE)) {
            ch.write(java.nio.ByteBuffer.wrap((gen + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, root.resolve("CURRENT"), StandardCopyOption.ATOMIC_MOVE);
        BlobStore.fsyncDir(root);
    }

    /**
     * Rewrites the journal as one Commit per live entry (least recently used first) into the next
     * generation, then switches CURRENT. A crash before the switch leaves the old generation in
     * charge; the half-written new file is overwritten by the next compaction.
     */
    private void compact() throws IOException {
        long next = journalGen + 1;
        Path p = root.resolve("journal." + next);
        Files.deleteIfExists(p);
        StorePermissions.createPrivateFile(p);
        try (Journal j = new Journal(p)) {
            List<JournalRecord> batch = new ArrayList<>(10_000);
            for (GroupId g : index.groups()) {
                for (Entry e : index.entries(g)) {
                    batch.add(JournalRecord.Commit.of(e));
                    if (batch.size() == 10_000) {
                        j.append(batch, false);
                        batch.clear();
                    }
                }
            }
            j.append(batch, false);
            j.force();
        }
        writeCurrent(next);
        Path old = journal.file();
        journal.close();
        Files.deleteIfExists(old);
        journal = new Journal(p);
        journalGen = next;
        journalOffset = journal.size();
        recordsSinceCompaction = index.entryCount();
        log.info("compacted the journal to generation {} ({} entries)", next, index.entryCount());
    }

    /** Forces a compaction now (normally automatic). */
    public void compactNow() throws IOException {
        locked(() -> {
            compact();
            return null;
        });
    }

    /**
     * The filesystem is the truth: drops entries whose blobs are gone, deletes orphan blobs and the
     * temp files and leases of dead processes. Under the lock.
     */
    private void reconcile() throws IOException {
        Set<Address> onDisk = new HashSet<>(Math.max(16, index.blobCount() * 2));
        blobs.scan(onDisk::add, p -> log.warn("stray file in the blob tree, ignored: {}", p));
        int[] orphans = {0};
        List<EntryKey> lost = dropLost(onDisk, orphans);
        if (!lost.isEmpty() || orphans[0] > 0) {
            log.warn("reconciled the index with the disk: {} entries lost a blob, {} orphan blobs removed",
                    lost.size(), orphans[0]);
        }
    }

    private List<EntryKey> dropLost(Set<Address> onDisk, int[] orphansRemoved) throws IOException {
        Set<Address> missing = new HashSet<>();
        index.forEachBlob(a -> {
            if (!onDisk.contains(a)) {
                missing.add(a);
            }
        });
        List<Index.Removal> removals = new ArrayList<>();
        for (Address a : missing) {
            removeReferring(a, EvictionCause.LOST, removals);
        }
        journalRemovals(removals);
        deleteFreed(removals);
        Leases.Others others = leases.readOthers();
        long cutoff = config.clock().getAsLong() - config.orphanGrace().toMillis();
        for (Address a : onDisk) {
            if (index.hasBlob(a) || pendingBlobs.containsKey(a)) {
                continue;
            }
            if (others.liveIds().isEmpty() || blobs.mtimeMillis(a) < cutoff) {
                blobs.delete(a);
                orphansRemoved[0]++;
            }
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs.tmpDir())) {
            for (Path t : ds) {
                String name = t.getFileName().toString();
                int dot = name.indexOf('.');
                String owner = dot < 0 ? name : name.substring(0, dot);
                if (!owner.equals(leases.id()) && !others.liveIds().contains(owner)) {
                    Files.deleteIfExists(t);
                }
            }
        }
        List<EntryKey> out = new ArrayList<>();
        removals.forEach(r -> out.add(r.entry().key()));
        return out;
    }

    private void writeLease() throws IOException {
        leaseStale = false;
        leases.write(inflight + pendingBytes, ownPins.keySet());
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
                for (Address a : pendingBlobs.keySet()) {
                    if (!index.hasBlob(a)) {
                        blobs.delete(a);
                    }
                }
                pendingBlobs.clear();
                pendingBytes = 0;
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
            for (Closeable c : new Closeable[] {journal, leases, lockChannel}) {
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
            OPEN.remove(root);
        }
    }
}
