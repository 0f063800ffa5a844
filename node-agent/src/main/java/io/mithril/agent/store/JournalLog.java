package io.mithril.agent.store;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.Index;
import io.mithril.agent.index.Journal;
import io.mithril.agent.index.JournalRecord;
import io.mithril.agent.index.Snapshot;
import io.mithril.agent.key.GroupId;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index's durable form: the journal of the generation CURRENT names, how far this process has
 * replayed it into the {@link Index}, and its compaction into the next generation. Every method
 * runs under the store lock.
 */
final class JournalLog implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(JournalLog.class);
    /** The index as of the last clean close ({@link Snapshot}). */
    static final String SNAPSHOT = "index.snap";

    private final Path root;
    private final Index index;
    private final BlobStore.WriteFaults faults;
    private Journal journal;
    private long gen;
    private long offset;
    private long recordsSinceCompaction;
    /** Whether this process's index was first loaded from a snapshot. */
    private boolean fromSnapshot;
    /** The heap the index may take ({@link StoreConfig#indexHeap()}); a replay past it evicts as it goes. */
    private final long indexHeap;
    /** What pins the entries now, read only when a replay must evict. */
    private PinSource pins = () -> k -> false;

    private Predicate<EntryKey> pinnedNow;
    /** Removals a replay made to stay within {@link #indexHeap}, not yet appended. */
    private final List<JournalRecord.Remove> overflow = new ArrayList<>();
    /** Entries replays evicted for memory since the caller last asked. */
    private int overflowCount;

    /** The pins in force (every process's), read from the leases when first needed. */
    @FunctionalInterface
    interface PinSource {
        Predicate<EntryKey> pinned() throws IOException;
    }

    JournalLog(Path root, Index index, BlobStore.WriteFaults faults, long indexHeap) {
        this.root = root;
        this.index = index;
        this.faults = faults;
        this.indexHeap = indexHeap;
    }

    /**
     * Brings the index up to the journal's end: reopens it when another process switched the
     * generation (the index is rebuilt from the new one), replays what others appended and cuts a
     * torn tail. Returns the number of records replayed.
     */
    int catchUp(PinSource pinSource) throws IOException {
        pins = pinSource;
        pinnedNow = null;
        long current = readCurrentGen();
        if (journal == null || current != gen) {
            if (journal != null) {
                journal.close();
            }
            Path file = root.resolve("journal." + current);
            StorePermissions.createPrivateFile(file);
            boolean first = journal == null;
            journal = new Journal(file);
            gen = current;
            offset = 0;
            recordsSinceCompaction = 0;
            index.clear();
            if (first) {
                offset = loadSnapshot();
                recordsSinceCompaction = index.entryCount();
            }
        }
        Journal.Replay r;
        try {
            r = journal.replay(offset, this::apply);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        if (!overflow.isEmpty() || overflowCount > 0) {
            try {
                flushOverflow(true);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }
        if (r.undecodable()) {
            throw new IOException("journal " + journal.file() + " has a record this agent cannot read at offset "
                    + r.endOffset() + " (written by a newer Mithril?); refusing to touch the store");
        }
        if (r.torn()) {
            log.warn(
                    "journal {} has a torn tail at {} (a writer died mid-append); cutting it off",
                    journal.file().getFileName(),
                    r.endOffset());
            journal.truncate(r.endOffset());
        }
        offset = r.endOffset();
        recordsSinceCompaction += r.records();
        return r.records();
    }

    /**
     * At this process's first look at the journal, after a clean close (the marker is still
     * there: the recovery that removes it runs next): the index from the snapshot the close
     * wrote, if it stands for this generation and the journal's exact length. Returns the journal
     * offset the index now reflects (0: replay it all). The snapshot is deleted either way: from
     * the first append on it stands for nothing.
     */
    private long loadSnapshot() throws IOException {
        Path snap = root.resolve(SNAPSHOT);
        if (!Files.exists(snap)) {
            return 0;
        }
        try {
            long length = journal.size();
            if (Files.exists(root.resolve(Reconciler.CLEAN))
                    && Snapshot.read(snap, index, new Snapshot.Covers(gen, length), indexHeap)) {
                log.info("index loaded from the clean close's snapshot ({} entries)", index.entryCount());
                fromSnapshot = true;
                return length;
            }
            log.info(
                    "snapshot {} does not match the journal or exceeds {} MiB of index heap: replaying the journal",
                    snap.getFileName(),
                    indexHeap >> 20);
            return 0;
        } catch (IOException | RuntimeException e) {
            index.clear();
            log.warn("could not read snapshot {} ({}): replaying the journal", snap.getFileName(), e.toString());
            return 0;
        } finally {
            Files.deleteIfExists(snap);
        }
    }

    boolean loadedFromSnapshot() {
        return fromSnapshot;
    }

    /**
     * At a clean close, once the journal is forced: writes the index as a {@link Snapshot} for
     * the next open (temp file, fsync, rename). Only an optimisation: a failure is logged.
     */
    void writeSnapshot() {
        Path tmp = root.resolve(SNAPSHOT + ".tmp");
        try {
            long length = journal.size();
            if (offset != length) {
                return; // not caught up: the index does not stand for the whole journal
            }
            Files.deleteIfExists(tmp);
            StorePermissions.createPrivateFile(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                Snapshot.write(Channels.newOutputStream(ch), index, new Snapshot.Covers(gen, length));
                ch.force(true);
            }
            Files.move(tmp, root.resolve(SNAPSHOT), StandardCopyOption.ATOMIC_MOVE);
            BlobStore.fsyncDir(root);
        } catch (IOException | RuntimeException e) {
            log.warn("could not write the index snapshot ({}); the next open replays the journal", e.toString());
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the next close overwrites it
            }
        }
    }

    /** Compacts when the journal holds more than twice as many records as live entries (plus 100,000). */
    void compactIfDue() {
        if (recordsSinceCompaction <= 2L * index.entryCount() + 100_000) {
            return;
        }
        try {
            compact();
        } catch (IOException e) {
            // Only an optimisation: never let it block the operation (a full disk must still gc).
            log.warn("journal compaction failed ({}); continuing on generation {}", e.toString(), gen);
            try {
                Files.deleteIfExists(root.resolve("journal." + (gen + 1)));
            } catch (IOException ignored) {
                // next attempt overwrites it
            }
            recordsSinceCompaction = index.entryCount();
        }
    }

    private void apply(JournalRecord rec) {
        if (rec instanceof JournalRecord.Commit c) {
            index.put(c.toEntry());
            if (index.heapEstimate() > indexHeap) {
                evictWhileReplaying();
            }
        } else if (rec instanceof JournalRecord.Remove rm) {
            index.remove(rm.key(), rm.cause());
        } else if (rec instanceof JournalRecord.Touch t) {
            index.touch(t.key(), t.time());
        }
    }

    /**
     * The journal holds more than this agent's heap may index (its heap was lowered, or another
     * process with a larger one committed): evict the least recently used unpinned entries now,
     * down to 95 %, rather than run out of memory before the replay ends. Their removals are
     * appended in chunks as the replay goes (past the end it reads to, so it does not meet them;
     * the next catch-up does, and a later commit of the same key that this replay applied is
     * removed then too), without keeping the evicted entries; the blobs they freed are not
     * deleted here but left to a scan ({@link #drainReplayEvictions}).
     */
    private void evictWhileReplaying() {
        if (pinnedNow == null) {
            try {
                pinnedNow = pins.pinned();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        for (Index.Removal r : index.evictToHeap(indexHeap - indexHeap / 20, pinnedNow)) {
            overflow.add(new JournalRecord.Remove(r.entry().key(), r.cause()));
        }
        if (overflow.size() >= 10_000) {
            flushOverflow(false);
        }
    }

    private void flushOverflow(boolean force) {
        try {
            journal.append(overflow, force);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        overflowCount += overflow.size();
        recordsSinceCompaction += overflow.size();
        overflow.clear();
    }

    /**
     * How many entries replays evicted for memory since the last call (their removals are
     * durable). The blobs they alone held are orphans now: the caller has the disk scanned.
     */
    int drainReplayEvictions() {
        int n = overflowCount;
        overflowCount = 0;
        return n;
    }

    /** Appends records the index already reflects; with {@code force} they are durable when this returns. */
    void append(List<? extends JournalRecord> records, boolean force) throws IOException {
        if (force && !records.isEmpty()) {
            Set<Address> named = new HashSet<>();
            for (JournalRecord r : records) {
                if (r instanceof JournalRecord.Commit c) {
                    c.files().forEach(f -> named.add(f.address()));
                }
            }
            faults.journaled(named);
        }
        journal.append(records, force);
        offset = journal.size();
        recordsSinceCompaction += records.size();
    }

    /**
     * Appends and forces; if that fails the in-memory index may be ahead of the disk, so it is
     * rebuilt from the journal before the failure is thrown on.
     */
    void appendDurably(List<? extends JournalRecord> records) throws IOException {
        try {
            append(records, true);
        } catch (IOException ex) {
            reloadAfterFailure(ex);
            throw ex;
        }
    }

    /** After a failed journal write the in-memory index may be ahead of the disk: rebuild it. */
    void reloadAfterFailure(Exception cause) {
        log.warn("journal write failed ({}); reloading the index from the journal", cause.toString());
        index.clear();
        offset = 0;
        recordsSinceCompaction = 0;
        try {
            Journal.Replay r = journal.replay(0, this::apply);
            offset = r.endOffset();
            if (r.torn()) {
                journal.truncate(r.endOffset());
            }
        } catch (IOException e) {
            log.error("could not reload the index: {}", e.toString());
        }
    }

    long size() throws IOException {
        return journal.size();
    }

    /** Forces what was appended without force (uses). */
    void force() throws IOException {
        if (journal != null) {
            journal.force();
        }
    }

    private long readCurrentGen() throws IOException {
        Path cur = root.resolve("CURRENT");
        try {
            return Long.parseLong(
                    Files.readString(cur, StandardCharsets.US_ASCII).trim());
        } catch (NoSuchFileException e) {
            writeCurrent(1);
            return 1;
        } catch (NumberFormatException e) {
            throw new IOException("store file CURRENT is damaged: " + e.getMessage());
        }
    }

    private void writeCurrent(long generation) throws IOException {
        Path tmp = root.resolve("CURRENT.tmp");
        try (FileChannel ch = FileChannel.open(
                tmp,
                Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING),
                StorePermissions.PRIVATE_FILE)) {
            ch.write(ByteBuffer.wrap((generation + "\n").getBytes(StandardCharsets.US_ASCII)));
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
    void compact() throws IOException {
        long next = gen + 1;
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
        gen = next;
        offset = journal.size();
        recordsSinceCompaction = index.entryCount();
        log.info("compacted the journal to generation {} ({} entries)", next, index.entryCount());
    }

    @Override
    public void close() throws IOException {
        if (journal != null) {
            journal.close();
        }
    }
}
