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
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads a group's entries that the remote lacks: blobs first (large ones loose, small ones packed
 * together, each object under its content address and written only if absent), the manifest last,
 * so a reader never sees an entry whose bytes are not all there. An entry the remote lists under
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
        List<Entry> whole = new ArrayList<>();
        List<Entry> waiting = new ArrayList<>(); // whole once the pack being filled is written
        for (Entry e : todo) {
            if (run.timedOut) {
                break;
            }
            boolean gone = false;
            boolean inPack = false;
            for (EntryFile f : e.files()) {
                if (run.placed.containsKey(f.address()) || f.size() == 0) {
                    continue;
                }
                if (run.packed.containsKey(f.address())) {
                    inPack = true;
                    continue;
                }
                int r = f.size() >= LOOSE_MIN ? run.loose(f) : run.pack(f);
                if (r < 0) {
                    gone = true; // evicted locally meanwhile: nothing to upload
                    break;
                }
                inPack |= r == 1;
            }
            if (gone) {
                done.add(e.key());
            } else if (inPack) {
                waiting.add(e);
            } else if (!run.timedOut) {
                whole.add(e);
            }
            if (run.pack.size() >= PACK_TARGET && run.flush()) {
                whole.addAll(waiting);
                waiting.clear();
            }
        }
        if (!waiting.isEmpty() && run.flush()) {
            whole.addAll(waiting);
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
        Report r = new Report(done, whole.size(), run.blobs, run.bytes, run.timedOut);
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

    /** One upload's state: where blobs lie (known and placed now) and the pack being filled. */
    private final class Run {
        final NodeStore store;
        final Map<Address, Location> placed;
        final long deadline;
        /** The blobs in the pack being filled: where each lies in it (its pack not known yet). */
        final Map<Address, Location> packed = new LinkedHashMap<>();

        final ByteArrayOutputStream pack = new ByteArrayOutputStream();
        int blobs;
        long bytes;
        boolean timedOut;

        Run(NodeStore store, Map<Address, Location> known, long deadline) {
            this.store = store;
            this.placed = new HashMap<>(known);
            this.deadline = deadline;
        }

        boolean timedOut() {
            if (!timedOut && nanoTime.getAsLong() - deadline >= 0) {
                timedOut = true;
            }
            return timedOut;
        }

        /**
         * Uploads a large blob unless it is there: 0 placed, -1 gone locally. One zstd frame where that
         * pays and the blob is at most {@link #COMPRESS_MAX}; raw otherwise. A blob that is there already
         * is placed as its size says: its own size raw, less a frame (compression only where it pays).
         */
        int loose(EntryFile f) throws IOException {
            if (timedOut()) {
                return 0;
            }
            Address a = f.address();
            String k = layout.blob(a);
            if (!store.exists(a)) {
                return -1;
            }
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
                    blobs++;
                    bytes += there;
                } else {
                    there = bucket.size(k); // written by another writer meanwhile, maybe otherwise stored
                }
            }
            placed.put(a, there >= 0 && there < f.size() ? new Location(null, 0, f.size(), there, true) : raw(f));
            return 0;
        }

        /** The local blob as a zstd frame, or null where compression does not pay (or it left the store: the PUT finds out). */
        private byte[] compressed(Address a) throws IOException {
            try (InputStream in = store.open(a)) {
                return in == null ? null : Frames.compress(in.readAllBytes());
            }
        }

        /** Adds a small blob to the pack (a zstd frame where that pays): 1 packed, -1 gone locally. */
        int pack(EntryFile f) throws IOException {
            byte[] b;
            try (InputStream in = store.open(f.address())) {
                if (in == null) {
                    return -1;
                }
                b = in.readAllBytes();
            }
            byte[] frame = Frames.compress(b);
            byte[] stored = frame != null ? frame : b;
            packed.put(f.address(), new Location(null, pack.size(), b.length, stored.length, frame != null));
            pack.write(stored);
            return 1;
        }

        /** Writes the pack; true if its blobs are placed. */
        boolean flush() throws IOException {
            if (packed.isEmpty()) {
                return true;
            }
            if (timedOut()) {
                return false;
            }
            byte[] b = pack.toByteArray();
            Address p = Blake3.hash(b);
            bucket.putIfAbsent(layout.pack(p), b);
            packed.forEach((a, l) -> placed.put(a, new Location(p, l.offset(), l.length(), l.stored(), l.zstd())));
            blobs += packed.size();
            bytes += b.length;
            packed.clear();
            pack.reset();
            return true;
        }
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
     * needs nothing more) leaves the queue. A failing remote stops it: the rest stays queued.
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
        return up;
    }
}
