package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.JavaChild;
import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.EntryKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
            assertThat(s.lookup(new EntryKey(H100, "from-crasher/"))).as("the crasher's acknowledged commit").isNotNull();
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
            assertThat(s.openedClean()).as("a crash was seen during the last life").isFalse();
            assertThat(s.exists(orphan)).isFalse();
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean()).isTrue();
        }
    }
}
