package io.mithril.agent.remote;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Manifest.Location;
import io.mithril.agent.remote.Manifest.RemoteEntry;
import io.mithril.agent.store.NodeStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads a group's entries that the remote lacks: blobs first (large ones loose, small ones packed
 * together, each object under its content address and written only if absent; up to the upload
 * concurrency of PUTs at once), the manifest last, once every PUT of the pass has ended, so a reader
 * never sees an entry whose bytes are not all there. A failed PUT fails the pass: nothing is listed. An entry the remote lists under
 * the same name already is not uploaded again. A deadline stops it between objects; the entries
 * whose blobs are all up by then are still listed in a manifest, the rest stays for the next run.
 */
public final class Uploader {
    private static final Logger log = LoggerFactory.getLogger(Uploader.class);

    /** Files from this size up are objects of their own; smaller ones are packed. */
    static final long LOOSE_MIN = 1 << 20;
    /** A pack is written once it holds this much (stored bytes). */
    static final long PACK_TARGET = 8 << 20;
    /** Loose blobs up to this size are compressed (in memory); larger ones are stored raw. */
    static final long COMPRESS_MAX = 16 << 20;

    private final RemoteSource remote;
    private final Bucket bucket;
    private final Layout layout;
    private final byte[] key;
    private final LongSupplier nanoTime;
    private final int concurrency;

    /**
     * {@code done}: the entries that need nothing more (uploaded now, listed remotely already, or
     * gone locally); {@code uploaded}: of those, the ones this call listed in a new manifest.
     */
    public record Report(Set<EntryKey> done, int uploaded, int blobs, long bytes, boolean timedOut) {}

    Uploader(RemoteSource remote, Bucket bucket, RemoteConfig config, LongSupplier nanoTime) {
        this.remote = remote;
        this.bucket = bucket;
        this.layout = new Layout(config.prefix());
        this.key = config.key();
        this.nanoTime = nanoTime;
        this.concurrency = config.limits().uploadConcurrency();
    }

    /** Uploads those of {@code names} (entries of {@code group} in {@code store}) that the remote lacks. */
    public Report upload(NodeStore store, GroupId group, Collection<String> names, long deadlineNanos)
            throws IOException {
        RemoteSource.Merged there = remote.merged(group);
        Set<EntryKey> done = new LinkedHashSet<>();
        List<Entry> todo = new ArrayList<>();
        for (String name : new LinkedHashSet<>(names)) {
            EntryKey k = new EntryKey(group, name);
            Entry e = store.lookup(k);
            if (e == null || there.entries().containsKey(name)) {
                done.add(k);
            } else {
                todo.add(e);
            }
        }
        Run run = new Run(store, there.blobs(), deadlineNanos);
        List<Entry> tried = new ArrayList<>();
        try {
            for (Entry e : todo) {
                if (run.stopped()) {
                    break;
                }
                boolean gone = false;
                for (EntryFile f : e.files()) {
                    if (f.size() == 0 || run.known(f.address())) {
                        continue;
                    }
                    if (!(f.size() >= LOOSE_MIN ? run.loose(f) : run.pack(f))) {
                        gone = true; // evicted locally meanwhile: nothing to upload
                        break;
                    }
                }
                if (gone) {
                    done.add(e.key());
                } else {
                    tried.add(e);
                }
                if (run.pack.size() >= PACK_TARGET) {
                    run.flush();
                }
            }
            run.flush();
        } finally {
            run.finish(); // every PUT in flight ends before anything is listed
        }
        run.rethrow(); // a PUT failed: nothing is listed, every entry stays queued
        List<Entry> whole = new ArrayList<>();
        for (Entry e : tried) {
            if (e.files().stream().allMatch(f -> f.size() == 0 || run.placed.containsKey(f.address()))) {
                whole.add(e);
            }
        }
        if (!whole.isEmpty()) { // past the deadline too: one small request, and it publishes what is up
            List<RemoteEntry> listed = new ArrayList<>();
            Map<Address, Location> where = new LinkedHashMap<>();
            for (Entry e : whole) {
                listed.add(new RemoteEntry(e.key().name(), e.files()));
                for (EntryFile f : e.files()) {
                    where.put(f.address(), f.size() == 0 ? raw(f) : run.placed.get(f.address()));
                }
            }
            byte[] sealed = new Manifest(group, listed, where).seal(key, writer());
            bucket.putIfAbsent(layout.manifest(group, Blake3.hash(sealed)), sealed);
            whole.forEach(e -> done.add(e.key()));
        }
        Report r = new Report(done, whole.size(), run.blobs.get(), run.bytes.get(), run.timedOut);
        if (r.timedOut()) {
            log.warn(
                    "upload of {} to {} stopped at its time limit: {} entries up, {} left for the next run",
                    group,
                    remote.describe(),
                    r.uploaded(),
                    todo.size() - r.uploaded());
        }
        return r;
    }

    private static String writer() {
        return ManagementFactory.getRuntimeMXBean().getName();
    }

    /**
     * One upload's state: where blobs lie (known and placed now), the pack being filled, and the PUTs
     * in flight: at most the upload concurrency at once (on threads of this pass), each blob or pack
     * placed only once its PUT is done. A PUT that fails stops the pass: no new PUT starts, those in
     * flight end, and {@link #rethrow} throws it.
     */
    private final class Run {
        final NodeStore store;
        final Map<Address, Location> placed;
        final long deadline;
        /** The blobs in the pack being filled: where each lies in it (its pack not known yet). */
        final Map<Address, Location> packed = new LinkedHashMap<>();
        /** Loose blobs whose PUT was started (placed when it is done). */
        final Set<Address> started = new HashSet<>();

        final ByteArrayOutputStream pack = new ByteArrayOutputStream();
        final AtomicInteger blobs = new AtomicInteger();
        final AtomicLong bytes = new AtomicLong();
        final AtomicReference<Exception> failure = new AtomicReference<>();
        final Semaphore slots;
        final ExecutorService pool;
        volatile boolean timedOut;

        Run(NodeStore store, Map<Address, Location> known, long deadline) {
            this.store = store;
            this.placed = new ConcurrentHashMap<>(known);
            this.deadline = deadline;
            this.slots = new Semaphore(concurrency);
            this.pool = Executors.newFixedThreadPool(concurrency, r -> {
                Thread t = new Thread(r, "mithril-upload");
                t.setDaemon(true);
                return t;
            });
        }

        boolean timedOut() {
            if (!timedOut && nanoTime.getAsLong() - deadline >= 0) {
                timedOut = true;
            }
            return timedOut;
        }

        /** Past the deadline, or a PUT failed: no more PUTs start. */
        boolean stopped() {
            return timedOut() || failure.get() != null;
        }

        /** Placed, in the pack being filled, or being put. */
        boolean known(Address a) {
            return placed.containsKey(a) || packed.containsKey(a) || started.contains(a);
        }

        /** Runs {@code put} on the pass's threads once one of them is free (so at most that many bodies are held). */
        void submit(IoTask put) throws IOException {
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("upload interrupted");
            }
            pool.execute(() -> {
                try {
                    if (!stopped()) {
                        put.run();
                    }
                } catch (IOException | RuntimeException e) {
                    failure.compareAndSet(null, e);
                } finally {
                    slots.release();
                }
            });
        }

        /** Waits for every PUT in flight. */
        void finish() throws IOException {
            pool.shutdown();
            try {
                while (!pool.awaitTermination(1, TimeUnit.MINUTES)) {
                    log.info("upload to {}: waiting for PUTs in flight", remote.describe());
                }
            } catch (InterruptedException e) {
                pool.shutdownNow();
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("upload interrupted");
            }
        }

        void rethrow() throws IOException {
            Exception e = failure.get();
            if (e instanceof IOException io) {
                throw io;
            }
            if (e != null) {
                throw new IOException("upload failed: " + e, e);
            }
        }

        /**
         * Starts the upload of a large blob unless it is there (false: gone locally). One zstd frame where that
         * pays and the blob is at most {@link #COMPRESS_MAX}; raw otherwise. A blob that is there already
         * is placed as its size says: its own size raw, less a frame (compression only where it pays).
         */
        boolean loose(EntryFile f) throws IOException {
            Address a = f.address();
            if (!store.exists(a)) {
                return false;
            }
            started.add(a);
            submit(() -> putLoose(f));
            return true;
        }

        private void putLoose(EntryFile f) throws IOException {
            Address a = f.address();
            String k = layout.blob(a);
            long there = bucket.size(k);
            if (there < 0) {
                byte[] frame = f.size() <= COMPRESS_MAX ? compressed(a) : null;
                boolean put;
                if (frame != null) {
                    put = bucket.putIfAbsent(k, frame);
                    there = frame.length;
                } else {
                    put = bucket.putIfAbsent(
                            k,
                            () -> {
                                InputStream in = store.open(a);
                                if (in == null) {
                                    throw new IOException("blob " + a.hex() + " left the local store");
                                }
                                return in;
                            },
                            f.size());
                    there = f.size();
                }
                if (put) {
                    blobs.incrementAndGet();
                    bytes.addAndGet(there);
                } else {
                    there = bucket.size(k); // written by another writer meanwhile, maybe otherwise stored
                }
            }
            placed.put(a, there >= 0 && there < f.size() ? new Location(null, 0, f.size(), there, true) : raw(f));
        }

        /** The local blob as a zstd frame, or null where compression does not pay (or it left the store: the PUT finds out). */
        private byte[] compressed(Address a) throws IOException {
            try (InputStream in = store.open(a)) {
                return in == null ? null : Frames.compress(in.readAllBytes());
            }
        }

        /** Adds a small blob to the pack (a zstd frame where that pays); false: gone locally. */
        boolean pack(EntryFile f) throws IOException {
            byte[] b;
            try (InputStream in = store.open(f.address())) {
                if (in == null) {
                    return false;
                }
                b = in.readAllBytes();
            }
            byte[] frame = Frames.compress(b);
            byte[] stored = frame != null ? frame : b;
            packed.put(f.address(), new Location(null, pack.size(), b.length, stored.length, frame != null));
            pack.write(stored);
            return true;
        }

        /** Starts the PUT of the pack being filled (past the deadline it is dropped: its blobs stay unplaced). */
        void flush() throws IOException {
            if (packed.isEmpty()) {
                return;
            }
            if (!stopped()) {
                byte[] b = pack.toByteArray();
                Map<Address, Location> slices = new LinkedHashMap<>(packed);
                submit(() -> {
                    Address p = Blake3.hash(b);
                    bucket.putIfAbsent(layout.pack(p), b);
                    slices.forEach(
                            (a, l) -> placed.put(a, new Location(p, l.offset(), l.length(), l.stored(), l.zstd())));
                    blobs.addAndGet(slices.size());
                    bytes.addAndGet(b.length);
                });
            }
            packed.clear();
            pack.reset();
        }
    }

    /** A PUT (and what it places) run on a pass's thread. */
    @FunctionalInterface
    private interface IoTask {
        void run() throws IOException;
    }

    private static Location raw(EntryFile f) {
        return new Location(null, 0, f.size());
    }

    /** The group's entries from {@code keys}, by group, oldest first: the queue's order. */
    private static Map<GroupId, List<String>> byGroup(Collection<EntryKey> keys) {
        Map<GroupId, List<String>> m = new LinkedHashMap<>();
        for (EntryKey k : keys) {
            m.computeIfAbsent(k.group(), g -> new ArrayList<>()).add(k.name());
        }
        return m;
    }

    /**
     * Uploads what {@code queue} holds, group by group, until {@code deadlineNanos}; what went up (or
     * needs nothing more) leaves the queue. A failing remote stops it: the rest stays queued. Then
     * records the entries fills from this remote fetched ({@link Uses}).
     * Returns the entries uploaded.
     */
    public int drain(NodeStore store, UploadQueue queue, long deadlineNanos) throws IOException {
        return drain(store, queue, deadlineNanos, (g, r) -> {});
    }

    /** As {@link #drain(NodeStore, UploadQueue, long)}, telling {@code each} what went up of every group. */
    public int drain(NodeStore store, UploadQueue queue, long deadlineNanos, BiConsumer<GroupId, Report> each)
            throws IOException {
        int up = 0;
        for (Map.Entry<GroupId, List<String>> g : byGroup(queue.snapshot()).entrySet()) {
            if (nanoTime.getAsLong() - deadlineNanos >= 0) {
                break;
            }
            Report r = upload(store, g.getKey(), g.getValue(), deadlineNanos);
            queue.remove(r.done());
            each.accept(g.getKey(), r);
            up += r.uploaded();
        }
        try {
            remote.uses().flush(); // at most one small record per group and interval
        } catch (IOException e) {
            log.info("recording the use of remote entries failed ({}); kept for the next pass", e.getMessage());
        }
        return up;
    }
}
