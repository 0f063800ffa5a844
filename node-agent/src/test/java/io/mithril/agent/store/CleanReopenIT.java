package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.A100;
import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.JavaChild;
import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clean close lets the next open skip the scan of every blob shard; a crash does not. Told
 * apart by what only the scan does: delete a blob no entry names.
 */
class CleanReopenIT {

    @TempDir
    Path root;

    /** Opens the store, commits an entry, and dies without closing (as a SIGKILL would). */
    public static final class Crasher {
        public static void main(String[] args) throws IOException {
            NodeStore s = NodeStore.open(Path.of(args[0]), StoreConfig.defaults());
            commit(s, H100, "from-crasher/", bytes(77, 2000));
            Runtime.getRuntime().halt(0);
        }
    }

    /** A blob file no entry names, as if left by an eviction whose delete failed. */
    private Address plantOrphan(long seed) throws IOException {
        byte[] b = bytes(seed, 1234);
        Address a = Blake3.hash(b);
        Path p = root.resolve("blobs").resolve(a.shard()).resolve(a.hex());
        Files.createDirectories(p.getParent());
        Files.write(p, b);
        return a;
    }

    private void crashAChild() throws Exception {
        Process p = JavaChild.start(Crasher.class, root.toString());
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }

    @Test
    void afterACleanClose_reopenSkipsTheScan_butStillReplaysAndSweepsDeadTemps() throws IOException {
        EntryKey k = new EntryKey(H100, "kept/");
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).as("a new store").isFalse();
            commit(s, H100, "kept/", bytes(1, 3000));
        }
        Address orphan = plantOrphan(5);
        Path deadTemp = Files.writeString(root.resolve("tmp").resolve("0000dead-0000.7.tmp"), "half a blob");
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).isTrue();
            assertThat(s.lookup(k)).as("journal replayed").isNotNull();
            assertThat(s.exists(orphan)).as("no scan: the orphan is not seen").isTrue();
            assertThat(deadTemp).as("a dead process's temp file").doesNotExist();
        }
        // the marker is consumed at open: were this process to crash now, the next open would scan
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withReconcileOnOpen(false))) {
            assertThat(s.openedClean()).isFalse();
        }
    }

    @Test
    void afterACrash_reopenScansInFull_andTheNextCleanCloseCountsAgain() throws Exception {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            commit(s, H100, "kept/", bytes(1, 3000));
        }
        crashAChild();
        Address orphan = plantOrphan(6);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).isFalse();
            assertThat(s.exists(orphan)).as("the full scan deletes the orphan").isFalse();
            assertThat(s.lookup(new EntryKey(H100, "from-crasher/")))
                    .as("the crasher's acknowledged commit")
                    .isNotNull();
            assertThat(StoreFixture.filesIn(root.resolve("tmp"))).isZero();
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).isTrue();
        }
    }

    @Test
    void aProcessThatDiedWhileAnotherLived_keepsTheLastCloseFromCountingAsClean() throws Exception {
        Address orphan;
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            crashAChild(); // dies while this process has the store open
            orphan = plantOrphan(8); // what it might have left
            s.sync();
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean())
                    .as("a crash was seen during the last life")
                    .isFalse();
            assertThat(s.exists(orphan)).isFalse();
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).isTrue();
        }
    }

    /** Everything the index says about the store, in order: keys, files, times, provenance, group figures. */
    private static String state(NodeStore s) throws IOException {
        StringBuilder b = new StringBuilder();
        StoreStats st = s.stats();
        b.append(st.entries())
                .append(' ')
                .append(st.blobs())
                .append(' ')
                .append(st.bytes())
                .append('\n');
        for (StoreStats.Group g : st.groups()) {
            b.append(g).append('\n');
            for (Entry e : s.entries(g.group())) {
                b.append(e.key())
                        .append(' ')
                        .append(e.files())
                        .append(' ')
                        .append(e.created())
                        .append(' ')
                        .append(e.lastUse())
                        .append(' ')
                        .append(e.provenance())
                        .append('\n');
            }
        }
        return b.toString();
    }

    private void fillWithUsesAndRemovals(NodeStore s) throws IOException {
        for (int i = 0; i < 30; i++) {
            GroupId g = i % 3 == 0 ? A100 : H100;
            EntryKey k = new EntryKey(g, "e" + i + "/");
            s.commit(
                    k,
                    List.of(
                            new EntryFile("a.py", s.put(bytes(i, 100 + i)), 100 + i, i % 2 == 0),
                            new EntryFile("a.pyc", s.put(bytes(1000 + i % 5, 50)), 50, false)),
                    "group=" + g.text() + " source=test at=2026-12-01T15:04:" + (10 + i) + ".25Z");
        }
        for (int i = 0; i < 30; i += 4) {
            s.recordUse(new EntryKey(i % 3 == 0 ? A100 : H100, "e" + i + "/"));
        }
        s.delete(new EntryKey(H100, "e1/"));
        s.sync();
    }

    /** Fills a store, closes it cleanly and returns its {@link #state}. */
    private String filledAndClosed() throws IOException {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            fillWithUsesAndRemovals(s);
            return state(s);
        }
    }

    @Test
    void aCleanClose_writesASnapshot_thatTheNextOpenReadsInsteadOfTheJournal_toTheSameIndex() throws IOException {
        String before = filledAndClosed();
        assertThat(root.resolve("index.snap")).exists();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.loadedFromSnapshot()).isTrue();
            assertThat(root.resolve("index.snap"))
                    .as("stands for nothing once the journal grows")
                    .doesNotExist();
            assertThat(state(s)).isEqualTo(before);
            commit(s, H100, "after/", bytes(99, 10));
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.loadedFromSnapshot()).isTrue();
            assertThat(s.lookup(new EntryKey(H100, "after/"))).isNotNull();
        }
    }

    @Test
    void aSnapshotThatIsDamaged_orStandsForAShorterJournal_orFollowsACrash_isIgnored() throws Exception {
        String before = filledAndClosed();
        Path snap = root.resolve("index.snap");
        byte[] older = Files.readAllBytes(snap);
        byte[] bad = older.clone();
        bad[bad.length / 2] ^= 1;
        Files.write(snap, bad);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.loadedFromSnapshot()).as("damaged").isFalse();
            assertThat(state(s)).isEqualTo(before);
            commit(s, H100, "more/", bytes(98, 10));
            before = state(s);
        }
        Files.write(snap, older);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.loadedFromSnapshot())
                    .as("stands for a shorter journal")
                    .isFalse();
            assertThat(state(s)).isEqualTo(before);
        }
        crashAChild();
        Files.write(snap, older);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.loadedFromSnapshot()).as("after a crash").isFalse();
            assertThat(s.lookup(new EntryKey(H100, "from-crasher/"))).isNotNull();
            assertThat(s.lookup(new EntryKey(H100, "more/"))).isNotNull();
        }
    }
}
