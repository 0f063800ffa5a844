package io.mithril.agent.remote;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Bucket.Listed;
import io.mithril.agent.remote.Manifest.Location;
import io.mithril.agent.remote.Manifest.RemoteEntry;
import io.mithril.agent.source.BlobNotFoundException;
import io.mithril.agent.source.EntrySource;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bucket as an entry source. A group's listing is the union of all its manifests that pass
 * authentication (compile caches only grow, so concurrent writers merge instead of overwriting each
 * other); an entry is listed only when every one of its blobs has a location in some manifest read
 * (its writer uploaded the blobs before the manifest). Manifests are immutable, so each is read
 * once per source. Small blobs come out of packs, many per request; the caller ({@code Filler})
 * hashes every byte, so a corrupted or truncated object is dropped there.
 */
public final class RemoteSource implements EntrySource {
    private static final Logger log = LoggerFactory.getLogger(RemoteSource.class);

    private final Bucket bucket;
    private final Layout layout;
    private final RemoteConfig config;
    /** Manifests read, by key (immutable: read once). Null values: rejected ones, not read again. */
    private final Map<String, Manifest> manifests = new ConcurrentHashMap<>();

    private final Set<String> rejectedKeys = ConcurrentHashMap.newKeySet();
    /** The signed {@code "used"} times of each manifest read (compacted ones carry them), by key. */
    private final Map<String, Map<String, Long>> usedTimes = new ConcurrentHashMap<>();
    /** Where blobs lie, from every manifest read. */
    private final Map<Address, Location> locations = new ConcurrentHashMap<>();
    /** The use of entries by fills, for retention. */
    private final Uses uses;

    /**
     * What a group holds remotely: its merged entries by name, where their blobs lie, and each entry's
     * recency as the bucket knows it (epoch ms: the newest manifest naming it, or the use time a
     * retention pass folded into a compacted manifest).
     */
    record Merged(
            Map<String, RemoteEntry> entries, Map<Address, Location> blobs, int manifests, Map<String, Long> recency) {}

    RemoteSource(Bucket bucket, RemoteConfig config) {
        this.bucket = bucket;
        this.config = config;
        this.layout = new Layout(config.prefix());
        this.uses = new Uses(bucket, layout, config.key(), System::currentTimeMillis, Uses.INTERVAL);
    }

    /** What fills from this source used, recorded for retention by {@link Uses#flush} (the upload pass runs it). */
    Uses uses() {
        return uses;
    }

    @Override
    public String describe() {
        return config.describe();
    }

    /** Manifests that failed authentication or did not parse, since this source was made. */
    public int rejectedManifests() {
        return (int) bucket.stats().rejectedManifests();
    }

    /** What this source and the uploader sharing its bucket did: the circuit's state, requests, bytes, rejections. */
    public RemoteStats stats() {
        return bucket.stats();
    }

    /** Requests made to the bucket so far (by this source and the uploader sharing its bucket). */
    public long requests() {
        return bucket.requests();
    }

    /**
     * The group's whole entries, most recently used first (as the bucket knows it, {@link Merged}), so
     * that a caller taking them while they fit (pre-warm under its byte budget) takes the hottest.
     */
    @Override
    public List<Entry> entries(GroupId group) throws IOException {
        Merged m = merged(group);
        List<RemoteEntry> ranked = new ArrayList<>(m.entries().values());
        ranked.sort(Comparator.comparingLong((RemoteEntry e) -> m.recency().getOrDefault(e.name(), 0L))
                .reversed());
        List<Entry> out = new ArrayList<>(ranked.size());
        long now = System.currentTimeMillis();
        for (RemoteEntry e : ranked) {
            out.add(new Entry(new EntryKey(group, e.name()), e.files(), now, now, "remote " + describe()));
        }
        return out;
    }

    /** Reads the group's manifests not read yet and merges all of them. */
    Merged merged(GroupId group) throws IOException {
        String folder = layout.manifests(group);
        List<Listed> listed = bucket.listDetailed(folder);
        // a name two manifests give different files: the first by key wins, on every reader
        listed.sort(Comparator.comparing(Listed::key));
        Map<String, RemoteEntry> entries = new LinkedHashMap<>();
        Map<Address, Location> blobs = new HashMap<>();
        Map<String, Long> recency = new HashMap<>();
        int read = 0;
        for (Listed l : listed) {
            Manifest m = manifest(group, l.key());
            if (m == null) {
                continue;
            }
            read++;
            blobs.putAll(m.blobs());
            long t = l.modified() == null ? 0 : l.modified().toEpochMilli();
            Map<String, Long> used = usedTimes.getOrDefault(l.key(), Map.of());
            for (RemoteEntry e : m.entries()) {
                entries.putIfAbsent(e.name(), e);
                recency.merge(e.name(), used.getOrDefault(e.name(), t), Math::max);
            }
        }
        entries.values().removeIf(e -> {
            for (EntryFile f : e.files()) {
                if (!blobs.containsKey(f.address()) && f.size() > 0) {
                    return true; // a writer's manifest that names a blob it did not place: not whole
                }
            }
            return false;
        });
        locations.putAll(blobs);
        uses.listed(group, entries.values());
        return new Merged(entries, blobs, read, recency);
    }

    private Manifest manifest(GroupId group, String key) throws IOException {
        Manifest m = manifests.get(key);
        if (m != null || rejectedKeys.contains(key)) {
            return m;
        }
        byte[] sealed = bucket.get(key);
        if (sealed == null) {
            return null; // listed, then gone (retention)
        }
        String name = key.substring(key.lastIndexOf('/') + 1);
        try {
            if (!Blake3.hash(sealed).hex().equals(name)) {
                throw new Manifest.Rejected("its bytes do not match its name");
            }
            m = Manifest.open(sealed, config.key(), group);
            for (RemoteEntry e : m.entries()) {
                new EntryKey(group, e.name()); // a name the local store would refuse: the manifest is not believed
            }
        } catch (Manifest.Rejected | IllegalArgumentException e) {
            bucket.stats().manifestRejected();
            rejectedKeys.add(key);
            log.warn("remote manifest {} ignored: {}", key, e.getMessage());
            return null;
        }
        usedTimes.put(key, Manifest.usedTimes(sealed));
        manifests.put(key, m);
        return m;
    }

    @Override
    public InputStream open(Address address) throws IOException {
        Location l = locations.get(address);
        if (l != null && l.length() == 0) {
            return new ByteArrayInputStream(new byte[0]);
        }
        InputStream in;
        if (l == null || l.loose()) {
            in = bucket.open(layout.blob(address), null);
        } else {
            in = bucket.open(layout.pack(l.pack()), range(l.offset(), l.offset() + l.stored()));
        }
        if (in == null) {
            throw new BlobNotFoundException(address, describe());
        }
        if (l == null || !l.zstd()) {
            return in;
        }
        try (in) {
            return inflated(address, l, in);
        }
    }

    /**
     * The blob's bytes from its stored frame ({@code in} holds {@code l.stored()} bytes of it, or more):
     * inflated into a buffer of the blob's own length, so a frame that would inflate past it (a zip bomb)
     * stops there. A frame that is cut, malformed, inflates to another length, or whose blob is over the
     * inflate limit, is not served: an empty stream (the Filler drops
     * it as too short, and counts it), and counted here.
     */
    private InputStream inflated(Address address, Location l, InputStream in) throws IOException {
        String why = null;
        byte[] out = null;
        if (l.length() > config.limits().inflateLimit()) {
            why = "inflates to " + l.length() + " B, over the limit of "
                    + config.limits().inflateLimit() + " B";
        } else if (l.stored() > l.length()) {
            why = "its frame is longer than the blob"; // never written so: compression is kept only where it pays
        } else {
            byte[] frame = in.readNBytes((int) l.stored());
            if (frame.length < l.stored()) {
                why = "its frame is cut short (" + frame.length + " of " + l.stored() + " B)";
            } else if ((out = Frames.inflate(frame, (int) l.length())) == null) {
                why = "its frame is malformed or does not inflate to " + l.length() + " B";
            }
        }
        if (why != null) {
            bucket.stats().frameRejected();
            log.warn("remote blob {} not served: {}", address.hex(), why);
            return new ByteArrayInputStream(new byte[0]);
        }
        return new ByteArrayInputStream(out);
    }

    /**
     * One request per pack (a range from the first wanted slice to the end of the last) and one per
     * loose blob. When a request to the remote fails, the rest is not asked for (a remote that is
     * down answers every request late): the Filler commits what is whole.
     */
    @Override
    public Set<Address> fetch(Collection<Address> wanted, BlobSink sink) throws IOException {
        Set<Address> missing = new HashSet<>();
        Map<Address, TreeMap<Long, Address>> byPack = new HashMap<>();
        List<Address> loose = new ArrayList<>();
        for (Address a : new HashSet<>(wanted)) {
            Location l = locations.get(a);
            if (l != null && l.length() == 0) {
                sink.accept(a, new ByteArrayInputStream(new byte[0]));
            } else if (l == null || l.loose()) {
                loose.add(a);
            } else {
                byPack.computeIfAbsent(l.pack(), p -> new TreeMap<>()).put(l.offset(), a);
            }
        }
        Set<Address> left = new HashSet<>(loose);
        byPack.values().forEach(m -> left.addAll(m.values()));
        try {
            for (Map.Entry<Address, TreeMap<Long, Address>> p : byPack.entrySet()) {
                fetchPack(p.getKey(), p.getValue(), sink, left, missing);
            }
            for (Address a : loose) {
                try (InputStream in = bucket.open(layout.blob(a), null)) {
                    left.remove(a);
                    if (in == null) {
                        missing.add(a);
                        continue;
                    }
                    Location l = locations.get(a);
                    sink.accept(a, l != null && l.zstd() ? inflated(a, l, in) : in);
                    uses.fetched(a);
                }
            }
        } catch (Bucket.RemoteException e) {
            log.warn("fetching from {} stopped: {}", describe(), e.getMessage());
            missing.addAll(left);
        } finally {
            uses.flushSoon();
        }
        return missing;
    }

    private void fetchPack(
            Address pack, TreeMap<Long, Address> slices, BlobSink sink, Set<Address> left, Set<Address> missing)
            throws IOException {
        long first = slices.firstKey();
        Location last = locations.get(slices.lastEntry().getValue());
        try (InputStream in = bucket.open(layout.pack(pack), range(first, last.offset() + last.stored()))) {
            if (in == null) {
                missing.addAll(slices.values());
                left.removeAll(slices.values());
                return;
            }
            long pos = first;
            for (Address a : slices.values()) {
                Location l = locations.get(a);
                left.remove(a);
                if (l.offset() < pos) {
                    missing.add(a); // overlapping slices: a malformed manifest; not served from here
                    continue;
                }
                long skip = l.offset() - pos;
                if (skipFully(in, skip) < skip) {
                    missing.add(a); // the pack is shorter than its manifest says
                    continue;
                }
                Slice s = new Slice(in, l.stored());
                sink.accept(a, l.zstd() ? inflated(a, l, s) : s);
                uses.fetched(a);
                s.drain();
                pos = l.offset() + l.stored();
            }
        }
    }

    private static long skipFully(InputStream in, long n) throws IOException {
        long done = 0;
        byte[] buf = new byte[8192];
        while (done < n) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            done += r;
        }
        return done;
    }

    private static String range(long from, long to) {
        return "bytes=" + from + "-" + (to - 1);
    }

    @Override
    public void close() {
        uses.close();
        bucket.close();
    }

    /** {@code length} bytes of a pack's stream; closing it leaves the pack's stream open. */
    private static final class Slice extends FilterInputStream {
        private long left;

        Slice(InputStream in, long length) {
            super(in);
            this.left = length;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int c = super.read();
            if (c >= 0) {
                left--;
            } else {
                left = 0;
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            if (len == 0) {
                return 0; // InputStream.readNBytes asks for 0 when its buffer is full: not the end
            }
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
            } else if (n < 0) {
                left = 0;
            }
            return n;
        }

        void drain() throws IOException {
            byte[] buf = new byte[8192];
            while (read(buf, 0, buf.length) > 0) {
                // what the sink did not read of its slice
            }
        }

        @Override
        public void close() {
            // the pack's stream stays open for the next slice
        }
    }
}
