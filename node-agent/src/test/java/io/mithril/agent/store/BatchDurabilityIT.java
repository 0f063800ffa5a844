package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Blobs are written without a sync each and made durable together at the commit that first names
 * them, always before that commit's journal record: the order is recorded through the write hooks.
 */
class BatchDurabilityIT {

    @TempDir
    Path root;

    @AfterEach
    void clearSyncfs() {
        System.clearProperty("mithril.store.syncfs");
    }

    /** What the hooks saw, in order: "sync ADDR" per blob made durable, "journal" with what a forced append names. */
    static final class Order implements BlobStore.WriteFaults {
        final List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        final List<Set<Address>> journaled = new ArrayList<>();

        @Override
        public void beforeWrite(Path tmp, long written, int next) {}

        @Override
        public void synced(Address a) {
            events.add("sync " + a.hex());
        }

        @Override
        public synchronized void journaled(Set<Address> named) {
            journaled.add(named);
            events.add("journal " + events.size());
        }

        /** Index of the n-th journal event. */
        int journalAt(int n) {
            int seen = 0;
            for (int i = 0; i < events.size(); i++) {
                if (events.get(i).startsWith("journal") && seen++ == n) {
                    return i;
                }
            }
            throw new AssertionError("no journal event " + n + " in " + events);
        }
    }

    /** 8 entries: 33 new blobs, synced file by file; 20 entries: 81, one syncfs for the batch (where the kernel has it). */
    @ParameterizedTest
    @ValueSource(ints = {8, 20})
    void commitAll_syncsEveryNewBlobOnce_beforeItsJournalRecord_andPutsDoNotSync(int entries) throws IOException {
        System.setProperty("mithril.store.syncfs", "true"); // the opt-in large-batch path, where the kernel has it
        Order order = new Order();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withFaults(order))) {
            List<NodeStore.Pending> batch = new ArrayList<>();
            Set<Address> all = new HashSet<>();
            byte[] shared = bytes(999, 3000);
            for (int e = 0; e < entries; e++) {
                List<EntryFile> files = new ArrayList<>();
                for (int f = 0; f < 5; f++) {
                    byte[] b = f == 0 ? shared : bytes(e * 10L + f, 1000 + f);
                    NodeStore.Stored w = s.put(new ByteArrayInputStream(b), b.length);
                    files.add(new EntryFile("f" + f, w.address(), w.size(), false));
                    all.add(w.address());
                }
                batch.add(new NodeStore.Pending(new EntryKey(H100, "e" + e), files, "test"));
            }
            assertThat(order.events).as("puts alone sync nothing").isEmpty();

            List<NodeStore.Outcome> out = s.commitAll(batch);
            assertThat(out).allSatisfy(o -> assertThat(o.error()).isNull());
            int journal = order.journalAt(0);
            List<String> before = order.events.subList(0, journal);
            assertThat(order.journaled.get(0)).isEqualTo(all);
            for (Address a : all) {
                assertThat(before)
                        .as("blob %s synced once, before the journal record naming it", a)
                        .containsOnlyOnce("sync " + a.hex());
            }
            assertThat(before).hasSize(all.size());

            // A second commit syncs only the blob that is new to the store.
            byte[] fresh = bytes(12345, 777);
            NodeStore.Stored w = s.put(new ByteArrayInputStream(fresh), fresh.length);
            NodeStore.Stored again = s.put(new ByteArrayInputStream(shared), shared.length);
            assertThat(again.existed()).isTrue();
            int mark = order.events.size();
            s.commit(
                    new EntryKey(H100, "late"),
                    List.of(
                            new EntryFile("a", w.address(), w.size(), false),
                            new EntryFile("b", again.address(), again.size(), false)),
                    "test");
            assertThat(order.events.subList(mark, order.events.size()))
                    .containsExactly("sync " + w.address().hex(), "journal " + (mark + 1));
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            VerifyReport v = s.verify();
            assertThat(v.clean()).as("%s", v).isTrue();
            assertThat(s.lookup(new EntryKey(H100, "e" + (entries - 1)))).isNotNull();
        }
    }

    @Test
    void aCopyUnderItsNameThatNoCommitVouchesFor_isReplacedByADurableOne_notTakenAsStored() throws IOException {
        byte[] b = bytes(7, 4096);
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            // another process's uncommitted (so possibly unsynced) copy of the same bytes
            BlobStore other = new BlobStore(root, "otherprocess", BlobStore.WriteFaults.NONE);
            BlobStore.Written theirs = other.write(new ByteArrayInputStream(b), BlobStore.Growth.NONE);
            Object theirInode = Files.readAttributes(
                            s.blobPath(theirs.address()),
                            java.nio.file.attribute.BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS)
                    .fileKey();

            NodeStore.Stored mine = s.put(new ByteArrayInputStream(b), b.length);
            assertThat(mine.address()).isEqualTo(theirs.address());
            assertThat(mine.existed()).isFalse();
            Object now = Files.readAttributes(
                            s.blobPath(mine.address()),
                            java.nio.file.attribute.BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS)
                    .fileKey();
            assertThat(now).isNotEqualTo(theirInode);

            // once committed it is vouched for: the next write of the same bytes keeps it
            s.commit(new EntryKey(H100, "x"), List.of(new EntryFile("x", mine.address(), mine.size(), false)), "test");
            assertThat(s.put(new ByteArrayInputStream(b), b.length).existed()).isTrue();
            Object kept = Files.readAttributes(
                            s.blobPath(mine.address()),
                            java.nio.file.attribute.BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS)
                    .fileKey();
            assertThat(kept).isEqualTo(now);
        }
    }
}
