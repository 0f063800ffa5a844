package io.mithril.agent.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Manifest.RemoteEntry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Use of remote entries by fills (docs/remote.md, "Retention"), recorded cheaply: the entries whose
 * blobs this agent fetched are gathered per group, and {@link #flush} writes at most one small sealed
 * record per group per interval ({@code PREFIX/uses/GROUP/<blake3>}, a folder fills never list), which
 * retention folds into its ranking and then deletes. Sealed like a manifest, under its own format
 * text, so a use record is never taken for a manifest nor the other way round.
 */
final class Uses {
    private static final Logger log = LoggerFactory.getLogger(Uses.class);
    static final String FORMAT = "mithril-use-1";
    /** The least time between two records of one group by one agent. */
    static final Duration INTERVAL = Duration.ofHours(1);
    /** How long closing waits for a record being written. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(2);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Bucket bucket;
    private final Layout layout;
    private final byte[] key;
    private final LongSupplier millis;
    private final long intervalMillis;
    /** Which entries each blob serves, from the manifests read. */
    private final Map<Address, Set<EntryKey>> users = new ConcurrentHashMap<>();
    /** Entries fetched and not yet recorded, by group. */
    private final Map<GroupId, Set<String>> pending = new HashMap<>();
    /** When this agent last wrote a record of each group. */
    private final Map<GroupId, Long> written = new HashMap<>();
    /** One flush at a time (its PUTs included), so a flush that returns has seen the one before it end. */
    private final ReentrantLock flushing = new ReentrantLock();
    /** Writes records after fills, off their path; a daemon thread, made at the first use. */
    private ExecutorService background;

    /** A use record: these entries of {@code group} were fetched by 'time' (epoch ms). */
    record Use(GroupId group, long time, Set<String> names) {}

    Uses(Bucket bucket, Layout layout, byte[] key, LongSupplier millis, Duration interval) {
        this.bucket = bucket;
        this.layout = layout;
        this.key = key;
        this.millis = millis;
        this.intervalMillis = interval.toMillis();
    }

    /** The entries of a group as a merge of its manifests lists them: which blob serves which. */
    void listed(GroupId group, Collection<RemoteEntry> entries) {
        for (RemoteEntry e : entries) {
            EntryKey k = new EntryKey(group, e.name());
            e.files()
                    .forEach(f -> users.computeIfAbsent(f.address(), a -> ConcurrentHashMap.newKeySet())
                            .add(k));
        }
    }

    /** A blob handed to a fill: the entries it serves were used. */
    void fetched(Address a) {
        Set<EntryKey> ks = users.get(a);
        if (ks == null) {
            return;
        }
        synchronized (this) {
            for (EntryKey k : ks) {
                pending.computeIfAbsent(k.group(), g -> new TreeSet<>()).add(k.name());
            }
        }
    }

    /**
     * Has a record written soon, off the caller's path, if one is due (a fill just fetched): fills pay
     * no request for recording their use. {@code serve}'s and {@code exec}'s upload passes flush too.
     */
    void flushSoon() {
        synchronized (this) {
            if (!due(millis.getAsLong())) {
                return;
            }
            if (background == null) {
                background = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "mithril-remote-uses");
                    t.setDaemon(true);
                    return t;
                });
            }
            if (background.isShutdown()) {
                return; // closed: the next run records it
            }
            background.execute(() -> {
                try {
                    flush();
                } catch (IOException | RuntimeException e) { // the client closed under it, too: never a stack trace
                    log.info("recording the use of remote entries failed ({}); kept for a later pass", e.toString());
                }
            });
        }
    }

    private synchronized boolean due(long now) {
        for (GroupId g : pending.keySet()) {
            Long last = written.get(g);
            if (last == null || now - last >= intervalMillis) {
                return true;
            }
        }
        return false;
    }

    /** Lets a record being written finish (briefly: at most {@link #CLOSE_WAIT}) before the bucket's client closes. */
    void close() {
        ExecutorService b;
        synchronized (this) {
            b = background;
        }
        if (b == null) {
            return;
        }
        b.shutdown();
        try {
            if (!b.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.info("recording the use of remote entries did not finish in {}; left for a later run", CLOSE_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Writes a record for each group with uses not recorded yet and no record by this agent within the
     * interval; the others wait for a later flush. Returns the records written. A failed write keeps
     * its uses for the next flush.
     */
    int flush() throws IOException {
        flushing.lock();
        try {
            return flushHeld();
        } finally {
            flushing.unlock();
        }
    }

    private int flushHeld() throws IOException {
        long now = millis.getAsLong();
        Map<GroupId, Set<String>> due = new HashMap<>();
        synchronized (this) {
            pending.forEach((g, names) -> {
                Long last = written.get(g);
                if (last == null || now - last >= intervalMillis) {
                    due.put(g, names);
                }
            });
            due.keySet().forEach(pending::remove);
        }
        int n = 0;
        for (Map.Entry<GroupId, Set<String>> d : due.entrySet()) {
            byte[] sealed = seal(new Use(d.getKey(), now, d.getValue()));
            try {
                bucket.putIfAbsent(layout.use(d.getKey(), Blake3.hash(sealed)), sealed);
            } catch (IOException e) {
                synchronized (this) {
                    pending.computeIfAbsent(d.getKey(), g -> new TreeSet<>()).addAll(d.getValue());
                }
                throw e;
            }
            synchronized (this) {
                written.put(d.getKey(), now);
            }
            n++;
        }
        if (n > 0) {
            log.debug("recorded the use of {} groups' remote entries", n);
        }
        return n;
    }

    byte[] seal(Use u) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("group", u.group().text());
        root.put("writer", ManagementFactory.getRuntimeMXBean().getName());
        root.put("time", u.time());
        u.names().forEach(root.putArray("entries")::add);
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Manifest.sealed(FORMAT, key, u.group(), body);
    }

    /** Checks the seal against {@code group}; anything off is {@link Manifest.Rejected}. */
    static Use open(byte[] sealed, byte[] key, GroupId group) throws Manifest.Rejected {
        byte[] body = Manifest.unsealed(FORMAT, sealed, key, group);
        try {
            JsonNode root = JSON.readTree(body);
            if (!group.text().equals(root.path("group").asText())
                    || !root.path("time").canConvertToLong()) {
                throw new Manifest.Rejected("names another group, or no time");
            }
            List<String> names = new ArrayList<>();
            root.path("entries").forEach(n -> names.add(n.asText()));
            return new Use(group, root.path("time").asLong(), new TreeSet<>(names));
        } catch (IOException e) {
            throw new Manifest.Rejected("malformed: " + e.getMessage());
        }
    }
}
