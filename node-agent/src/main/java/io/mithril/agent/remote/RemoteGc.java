package io.mithril.agent.remote;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Bucket.Listed;
import io.mithril.agent.remote.Manifest.Location;
import io.mithril.agent.remote.Manifest.RemoteEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remote retention (docs/remote.md, "Retention"), one pass by one actor at a time: per group, the
 * entries of its authenticated manifests are ranked by when they were last listed or fetched (the
 * time of the newest manifest naming them or of the newest use record of a fill that fetched them,
 * carried across compactions as a signed {@code "used"} time); the most
 * recent are kept up to the budget, written as one compacted manifest, and the manifests read are
 * deleted after it is up (so a reader sees the old ones, the new one, or both: never an entry
 * without a manifest placing its blobs). Then blobs and packs that no manifest under the prefix names
 * (any group's, authenticated or not: a name keeps bytes alive) and older than the grace are
 * deleted.
 */
public final class RemoteGc {
    private static final Logger log = LoggerFactory.getLogger(RemoteGc.class);
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
    private static final String WRITER = "mithril-gc";

    private final Bucket bucket;
    private final Layout layout;
    private final byte[] key;
    private final LongSupplier millis;

    /**
     * Who may run retention now. {@link #tryAcquire} true: this actor holds it for at most {@code lease}
     * (a Kubernetes Lease can back it; {@link #bucketLock} is an object in the bucket).
     */
    public interface Lock {
        boolean tryAcquire(Duration lease) throws IOException;

        void release() throws IOException;
    }

    /** What a pass did; {@code ran} false: another actor held the lock, nothing was done. */
    public record Report(
            boolean ran,
            int groups,
            int manifestsRead,
            int manifestsDeleted,
            int entriesKept,
            int entriesEvicted,
            long bytesKept,
            int objectsDeleted,
            long bytesDeleted,
            int objectsInGrace,
            int groupsLeftAlone,
            Map<String, Held> held) {}

    /** What one budget's groups hold in the bucket after a pass: whole entries and the bytes of their distinct files. */
    public record Held(long bytes, int entries) {}

    RemoteGc(Bucket bucket, RemoteConfig config, LongSupplier millis) {
        this.bucket = bucket;
        this.layout = new Layout(config.prefix());
        this.key = config.key();
        this.millis = millis;
    }

    /**
     * The retention lock as generations of objects, each written once ({@code If-None-Match}) and
     * never overwritten or deleted: {@code PREFIX/gc-lock/<n>} holds its holder and expiry. The
     * newest generation is the lock; once it has expired or was released (a generation whose expiry
     * is 0, written by its holder), an actor takes over by writing generation n+1, which exactly one
     * actor can do. (Replacing one lock object by delete-then-create let two actors that both saw it
     * expire both win: the second's delete removed the first's new lock.)
     *
     * <p>The newest generation is found by GETs, not a listing (S3Proxy's filesystem backend lists a
     * key just written as absent during bursts of writes): from {@code gc-lock/hint}, which each new
     * holder moves to its generation before it acts, upward while the next generation exists. As
     * generations are never deleted, they are exactly 1..n, so a hint that lags still leads to n. Two
     * small objects per pass are left behind (a year of hourly passes: about 17,000). A live
     * {@code PREFIX/gc.lock} of an older agent is respected.
     */
    public Lock bucketLock(String holder) {
        return new Lock() {
            private long held;

            @Override
            public boolean tryAcquire(Duration lease) throws IOException {
                held = 0;
                byte[] legacy = bucket.get(layout.gcLock());
                if (legacy != null && !expired(legacy)) {
                    return false;
                }
                long top = newestGeneration();
                if (top > 0) {
                    byte[] current = bucket.get(generation(top));
                    if (current != null && !expired(current)) {
                        return false;
                    }
                }
                byte[] mine = (holder + " " + (millis.getAsLong() + lease.toMillis())).getBytes(StandardCharsets.UTF_8);
                if (!bucket.putIfAbsent(generation(top + 1), mine)) {
                    return false; // another actor took this generation
                }
                held = top + 1;
                try {
                    bucket.overwrite(
                            layout.gcLocks() + HINT, Long.toString(held).getBytes(StandardCharsets.UTF_8));
                } catch (IOException | RuntimeException e) {
                    release(); // it must not act unseen: the next actor would probe from far below
                    throw e;
                }
                return true;
            }

            @Override
            public void release() throws IOException {
                if (held > 0) {
                    long released = held;
                    held = 0;
                    // a body: S3Proxy cut off an empty conditional PUT
                    bucket.putIfAbsent(
                            generation(released + 1), (holder + " released 0").getBytes(StandardCharsets.UTF_8));
                }
            }

            private boolean expired(byte[] lock) {
                String s = new String(lock, StandardCharsets.UTF_8).trim();
                try {
                    return Long.parseLong(s.substring(s.lastIndexOf(' ') + 1)) < millis.getAsLong();
                } catch (NumberFormatException e) {
                    return true;
                }
            }
        };
    }

    private static final String HINT = "hint";

    private String generation(long n) {
        return layout.gcLocks() + n;
    }

    /** The newest generation of the lock (0: none yet): from the hint, upward while the next exists. */
    private long newestGeneration() throws IOException {
        long n = 0;
        byte[] hint = bucket.get(layout.gcLocks() + HINT);
        if (hint != null) {
            try {
                n = Long.parseLong(new String(hint, StandardCharsets.UTF_8).trim());
            } catch (NumberFormatException e) {
                n = 0; // written by no agent of ours: walked from the start
            }
        }
        if (n > 0 && bucket.get(generation(n)) == null) {
            n = 0; // not a generation that exists: the hint is not ours to trust
        }
        while (bucket.get(generation(n + 1)) != null) {
            n++;
        }
        return n;
    }

    /** How much the groups that share {@code key} may hold together: a CompileCache's groups share its budget. */
    public record Budget(String key, long bytes) {}

    /** The budget of each group; null: the group is left alone (not this actor's to judge, e.g. another cluster's). */
    public interface Budgets {
        Budget of(GroupId group);
    }

    /** Keeps each group's most recently used entries within {@code budgetBytes} of its own; every group under the prefix. */
    public Report collect(long budgetBytes, Duration grace, Lock lock, Duration lease) throws IOException {
        return collect(g -> new Budget(g.text(), budgetBytes), grace, lock, lease);
    }

    /**
     * Keeps the most recently used entries of each set of groups sharing a {@link Budget} within it
     * (groups {@code budgets} gives none are neither compacted nor evicted), then sweeps.
     */
    public Report collect(Budgets budgets, Duration grace, Lock lock, Duration lease) throws IOException {
        if (!lock.tryAcquire(lease)) {
            log.info("remote retention skipped: another actor holds the lock");
            return new Report(false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, Map.of());
        }
        try {
            Set<GroupId> groups = new LinkedHashSet<>();
            for (String k : bucket.list(layout.groups())) {
                String rest = k.substring(layout.groups().length());
                int m = rest.indexOf("/manifests/");
                if (m > 0) {
                    try {
                        groups.add(GroupId.parse(rest.substring(0, m)));
                    } catch (IllegalArgumentException notOurs) {
                        // not a group's folder: left alone
                    }
                }
            }
            Map<GroupId, GroupUses> uses = uses();
            groups.addAll(uses.keySet());
            Map<String, List<Read>> shared = new LinkedHashMap<>();
            Map<String, Long> limits = new HashMap<>();
            // The manifests this pass leaves in place or writes: what they name is kept whatever the
            // sweep's own listing shows (a store may list a key written a moment ago as absent, and the
            // blobs a compacted manifest names are old, so no grace would cover them).
            Set<String> seen = new HashSet<>();
            int alone = 0;
            for (GroupId g : groups) {
                Budget b = budgets.of(g);
                if (b == null) {
                    alone++;
                    continue;
                }
                shared.computeIfAbsent(b.key(), k -> new ArrayList<>())
                        .add(read(g, uses.getOrDefault(g, new GroupUses()), seen));
                limits.merge(b.key(), b.bytes(), Math::min);
            }
            int[] counts = new int[4];
            long kept = 0;
            Map<String, Held> held = new LinkedHashMap<>();
            for (Map.Entry<String, List<Read>> e : shared.entrySet()) {
                Held h = retain(e.getKey(), e.getValue(), limits.get(e.getKey()), counts, seen);
                held.put(e.getKey(), h);
                kept += h.bytes();
            }
            long[] swept = sweep(grace, seen);
            Report r = new Report(
                    true,
                    groups.size() - alone,
                    counts[0],
                    counts[1],
                    counts[2],
                    counts[3],
                    kept,
                    (int) swept[0],
                    swept[1],
                    (int) swept[2],
                    alone,
                    held);
            log.info("remote retention: {}", r);
            return r;
        } finally {
            lock.release();
        }
    }

    /** A group's use records: the newest use of each entry they name, and the records' keys. */
    private static final class GroupUses {
        final Map<String, Long> used = new HashMap<>();
        final List<String> keys = new ArrayList<>();
    }

    /**
     * Every authenticated use record under the prefix, by group: an entry's use is the record's time, at
     * most the object's own time (a record cannot claim a later use than it was written).
     */
    private Map<GroupId, GroupUses> uses() throws IOException {
        Map<GroupId, GroupUses> out = new HashMap<>();
        String folder = layout.uses();
        for (Listed l : bucket.listDetailed(folder)) {
            String rest = l.key().substring(folder.length());
            int slash = rest.lastIndexOf('/');
            GroupId g;
            try {
                g = GroupId.parse(rest.substring(0, Math.max(0, slash)));
            } catch (IllegalArgumentException notOurs) {
                continue; // not a group's record: left alone
            }
            byte[] sealed = bucket.get(l.key());
            if (sealed == null) {
                continue;
            }
            Uses.Use u;
            try {
                if (!Blake3.hash(sealed).hex().equals(rest.substring(slash + 1))) {
                    throw new Manifest.Rejected("its bytes do not match its name");
                }
                u = Uses.open(sealed, key, g);
            } catch (Manifest.Rejected e) {
                log.warn("remote retention leaves use record {} alone: {}", l.key(), e.getMessage());
                continue;
            }
            long t = l.modified() != null ? Math.min(u.time(), l.modified().toEpochMilli()) : u.time();
            GroupUses gu = out.computeIfAbsent(g, x -> new GroupUses());
            u.names().forEach(n -> gu.used.merge(n, t, Math::max));
            gu.keys.add(l.key());
        }
        return out;
    }

    /**
     * A group's authenticated manifests as read: their keys and the names each mentions, entries (first manifest by key wins), recency
     * (its use records folded in), blobs, and the use records' keys.
     */
    private record Read(
            GroupId group,
            List<String> keys,
            List<Set<String>> named,
            Map<String, RemoteEntry> entries,
            Map<String, Long> used,
            Map<Address, Location> blobs,
            List<String> useKeys) {}

    private Read read(GroupId g, GroupUses uses, Set<String> seen) throws IOException {
        List<Listed> listed = bucket.listDetailed(layout.manifests(g));
        listed.sort(Comparator.comparing(
                Listed::key)); // the readers' order: the first manifest by key gives a name its files
        Map<String, RemoteEntry> entries = new LinkedHashMap<>();
        Map<String, Long> used = new HashMap<>();
        Map<Address, Location> blobs = new HashMap<>();
        List<String> read = new ArrayList<>();
        List<Set<String>> bodies = new ArrayList<>();
        for (Listed l : listed) {
            byte[] sealed = bucket.get(l.key());
            if (sealed == null) {
                continue;
            }
            Manifest m;
            try {
                if (!Blake3.hash(sealed).hex().equals(l.key().substring(l.key().lastIndexOf('/') + 1))) {
                    throw new Manifest.Rejected("its bytes do not match its name");
                }
                m = Manifest.open(sealed, key, g);
            } catch (Manifest.Rejected e) {
                log.warn("remote retention leaves manifest {} alone: {}", l.key(), e.getMessage());
                addNames(sealed, seen);
                continue; // not ours to judge; its names keep their blobs alive
            }
            read.add(l.key());
            bodies.add(names(sealed));
            long t = l.modified() != null ? l.modified().toEpochMilli() : millis.getAsLong();
            Map<String, Long> recorded = Manifest.usedTimes(sealed);
            blobs.putAll(m.blobs());
            for (RemoteEntry e : m.entries()) {
                entries.putIfAbsent(e.name(), e);
                used.merge(e.name(), recorded.getOrDefault(e.name(), t), Math::max);
            }
        }
        uses.used.forEach((name, t) -> {
            if (used.containsKey(name)) {
                used.merge(name, t, Math::max); // fetched by a fill after its upload
            }
        });
        return new Read(g, read, bodies, entries, used, blobs, uses.keys);
    }

    /**
     * The groups of one budget: their whole entries ranked together by recency, kept newest first
     * while they fit, each group compacted into one manifest. Returns what they hold now.
     */
    private Held retain(String budgetKey, List<Read> groups, long budget, int[] counts, Set<String> seen)
            throws IOException {
        record Ranked(Read from, RemoteEntry entry, long used) {}
        List<Ranked> ranked = new ArrayList<>();
        for (Read r : groups) {
            counts[0] += r.keys().size();
            for (RemoteEntry e : r.entries().values()) {
                if (e.files().stream().noneMatch(f -> f.size() > 0 && !r.blobs().containsKey(f.address()))) {
                    ranked.add(new Ranked(r, e, r.used().get(e.name())));
                }
            }
        }
        ranked.sort(Comparator.comparingLong(Ranked::used).reversed());
        Map<GroupId, List<RemoteEntry>> keep = new HashMap<>();
        long total = 0;
        int entries = 0;
        for (Ranked x : ranked) {
            long size = size(x.entry());
            if (total + size <= budget) {
                keep.computeIfAbsent(x.from().group(), g -> new ArrayList<>()).add(x.entry());
                total += size;
                entries++;
            }
        }
        int evicted = 0;
        for (Read r : groups) {
            evicted += compact(r, keep.getOrDefault(r.group(), List.of()), counts, seen);
        }
        if (evicted > 0) {
            log.info(
                    "remote retention: {} ({} groups) keeps {} B of a {} B budget, {} entries evicted",
                    budgetKey,
                    groups.size(),
                    total,
                    budget,
                    evicted);
        }
        return new Held(total, entries);
    }

    /**
     * Writes {@code keep} as the group's one manifest, then deletes the manifests read; adds the
     * manifests the group is left with to {@code seen}. Returns the entries evicted.
     */
    private int compact(Read r, List<RemoteEntry> keep, int[] counts, Set<String> seen) throws IOException {
        int evicted = r.entries().size() - keep.size();
        counts[2] += keep.size();
        counts[3] += evicted;
        if (evicted == 0 && r.keys().size() <= 1 && r.useKeys().isEmpty()) {
            r.named().forEach(seen::addAll);
            return 0; // nothing to compact
        }
        String compacted = null;
        if (!keep.isEmpty()) {
            Map<Address, Location> where = new LinkedHashMap<>();
            Map<String, Long> times = new LinkedHashMap<>();
            for (RemoteEntry e : keep) {
                times.put(e.name(), r.used().get(e.name()));
                for (EntryFile f : e.files()) {
                    where.put(
                            f.address(),
                            f.size() == 0 ? new Location(null, 0, 0) : r.blobs().get(f.address()));
                }
            }
            byte[] sealed = new Manifest(r.group(), keep, where).seal(key, WRITER, times);
            compacted = layout.manifest(r.group(), Blake3.hash(sealed));
            bucket.putIfAbsent(compacted, sealed); // before any delete: a reader always finds every kept entry
            addNames(sealed, seen);
        }
        for (String k : r.keys()) {
            if (!k.equals(compacted)) {
                bucket.delete(k);
                counts[1]++;
            }
        }
        for (String k : r.useKeys()) {
            bucket.delete(k); // folded into the compacted manifest's "used" times
        }
        return evicted;
    }

    private static long size(RemoteEntry e) {
        Set<Address> seen = new HashSet<>();
        long n = 0;
        for (EntryFile f : e.files()) {
            if (seen.add(f.address())) {
                n += f.size();
            }
        }
        return n;
    }

    /**
     * Deletes blobs and packs that no manifest names (none listed now, none in {@code seen}) and older
     * than {@code grace}: {deleted, bytes, left in grace}.
     */
    private long[] sweep(Duration grace, Set<String> seen) throws IOException {
        Set<String> named = new HashSet<>(seen);
        for (String k : bucket.list(layout.groups())) {
            byte[] m = bucket.get(k);
            if (m != null) {
                addNames(m, named);
            }
        }
        long[] out = new long[3];
        Instant cut = Instant.ofEpochMilli(millis.getAsLong()).minus(grace);
        for (String folder : List.of(layout.blobs(), layout.packs())) {
            for (Listed l : bucket.listDetailed(folder)) {
                String name = l.key().substring(folder.length());
                if (named.contains(name)) {
                    continue;
                }
                if (l.modified() == null || l.modified().isAfter(cut)) {
                    out[2]++;
                    continue;
                }
                bucket.delete(l.key());
                out[0]++;
                out[1] += l.size();
            }
        }
        return out;
    }

    /** Every address and pack name a manifest mentions. */
    private static Set<String> names(byte[] manifest) {
        Set<String> out = new HashSet<>();
        addNames(manifest, out);
        return out;
    }

    /** Adds every address and pack name a manifest mentions, authenticated or not. */
    private static void addNames(byte[] manifest, Set<String> named) {
        Matcher x = HEX64.matcher(new String(manifest, StandardCharsets.UTF_8));
        while (x.find()) {
            named.add(x.group());
        }
    }
}
