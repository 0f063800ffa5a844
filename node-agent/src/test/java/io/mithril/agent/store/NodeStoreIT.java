package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.A100;
import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.blobBytesOnDisk;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static io.mithril.agent.store.StoreFixture.filesIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeStoreIT {

    @TempDir
    Path root;

    NodeStore open(StoreConfig cfg) throws IOException {
        return NodeStore.open(root, cfg);
    }

    @Test
    void put_identicalContent_isStoredOnceAndReadBack() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults())) {
            byte[] b = bytes(1, 5000);
            Address a1 = s.put(b);
            Address a2 = s.put(b.clone());
            assertThat(a1).isEqualTo(a2).isEqualTo(Blake3.hash(b));
            assertThat(s.exists(a1)).isTrue();
            assertThat(s.get(a1)).isEqualTo(b);
            assertThat(filesIn(root.resolve("blobs"))).isEqualTo(1);
            Address absent = Blake3.hash(new byte[] {42});
            assertThat(s.get(absent)).isNull();
            assertThat(s.exists(absent)).isFalse();
            assertThat(Files.isWritable(s.blobPath(a1)) && !isRoot()).isFalse();
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    @Test
    void commit_survivesReopen_withFilesAndSizes() throws IOException {
        Entry e;
        try (NodeStore s = open(StoreConfig.defaults())) {
            e = commit(s, H100, "triton/ABC/", bytes(1, 100), bytes(2, 200));
        }
        try (NodeStore s = open(StoreConfig.defaults())) {
            Entry back = s.lookup(e.key());
            assertThat(back).isNotNull();
            assertThat(back.files()).isEqualTo(e.files());
            assertThat(s.stats().bytes()).isEqualTo(300);
            assertThat(s.get(back.files().get(1).address())).isEqualTo(bytes(2, 200));
        }
    }

    @Test
    void commit_blobNeverPut_isRefusedAndNothingCommitted() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults())) {
            EntryKey k = new EntryKey(H100, "x/");
            Address ghost = Blake3.hash(new byte[] {9});
            assertThatThrownBy(() -> s.commit(k, List.of(new EntryFile("f", ghost, 1, false)), "t"))
                    .isInstanceOf(BlobMissingException.class)
                    .hasMessageContaining("put it again");
            assertThat(s.lookup(k)).isNull();
            assertThat(s.stats().entries()).isZero();
        }
    }

    @Test
    void sharedBlob_acrossGroups_isDeletedOnlyWithItsLastEntry() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults())) {
            byte[] kernel = bytes(7, 4096);
            Entry a = commit(s, H100, "k/", kernel);
            Entry b = commit(s, A100, "k/", kernel);
            assertThat(s.stats().bytes()).isEqualTo(4096);
            assertThat(s.stats().groups()).hasSize(2).allMatch(g -> g.bytes() == 4096);
            assertThat(s.delete(a.key())).isTrue();
            assertThat(s.exists(Blake3.hash(kernel))).isTrue();
            assertThat(s.delete(b.key())).isTrue();
            assertThat(s.exists(Blake3.hash(kernel))).isFalse();
            assertThat(s.delete(b.key())).isFalse();
        }
    }

    @Test
    void hardLimit_evictsLeastRecentlyUsed_andIsNeverExceededOnDisk() throws IOException {
        AtomicLong clock = new AtomicLong(1000);
        try (NodeStore s =
                open(StoreConfig.defaults().withLimits(10_000, 10_000).withClock(clock::incrementAndGet))) {
            Entry first = commit(s, H100, "e0/", bytes(0, 3000));
            Entry second = commit(s, H100, "e1/", bytes(1, 3000));
            commit(s, H100, "e2/", bytes(2, 3000));
            s.recordUse(first.key()); // first is now more recent than second
            commit(s, H100, "e3/", bytes(3, 3000));
            assertThat(s.lookup(second.key()))
                    .as("least recently used goes first")
                    .isNull();
            assertThat(s.lookup(first.key())).isNotNull();
            for (int i = 4; i < 30; i++) {
                commit(s, H100, "e" + i + "/", bytes(i, 3000));
                assertThat(blobBytesOnDisk(root)).isLessThanOrEqualTo(10_000);
            }
            assertThat(s.stats().evictions().get(EvictionCause.NODE_BUDGET)).isGreaterThan(20);
        }
    }

    @Test
    void pinnedEntries_areNeverEvicted_andAFullStoreRefusesWithAClearError() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(10_000, 10_000))) {
            Entry a = commit(s, H100, "a/", bytes(0, 4000));
            Entry b = commit(s, H100, "b/", bytes(1, 4000));
            try (Pin pin = s.pin(List.of(a.key(), b.key()))) {
                assertThatThrownBy(() -> commit(s, H100, "c/", bytes(2, 4000)))
                        .isInstanceOf(StoreFullException.class)
                        .hasMessageContaining("hard limit");
                assertThat(s.lookup(a.key())).isNotNull();
                assertThat(s.lookup(b.key())).isNotNull();
                assertThat(filesIn(root.resolve("tmp"))).isZero();
            }
            commit(s, H100, "c/", bytes(2, 4000));
            assertThat(s.lookup(a.key())).as("unpinned now, so the oldest went").isNull();
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void writeLargerThanTheHardLimit_isRefusedBeforeWriting() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(10_000, 9_000))) {
            commit(s, H100, "keep/", bytes(0, 1000));
            byte[] big = bytes(1, 20_000);
            assertThatThrownBy(() -> s.put(new ByteArrayInputStream(big), -1)).isInstanceOf(StoreFullException.class);
            assertThatThrownBy(() -> s.put(big)).isInstanceOf(StoreFullException.class);
            assertThat(filesIn(root.resolve("tmp"))).isZero();
            assertThat(blobBytesOnDisk(root)).isEqualTo(1000);
            assertThat(s.stats().reservedBytes()).isZero();
        }
    }

    @Test
    void softLimit_backgroundEvictionBringsUsageDown() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(100_000, 50_000))) {
            for (int i = 0; i < 9; i++) {
                commit(s, H100, "e" + i + "/", bytes(i, 10_000));
            }
            Awaitility.await()
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> s.stats().bytes() <= 50_000);
            assertThat(s.lookup(new EntryKey(H100, "e8/")))
                    .as("the newest stays")
                    .isNotNull();
        }
    }

    @Test
    void groupBudget_evictsOnlyWithinThatGroup() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults())) {
            s.setGroupBudget(H100, 5_000L);
            commit(s, A100, "other/", bytes(99, 4000));
            for (int i = 0; i < 5; i++) {
                commit(s, H100, "e" + i + "/", bytes(i, 2000));
            }
            assertThat(s.stats().groups()).anySatisfy(g -> {
                assertThat(g.group()).isEqualTo(H100);
                assertThat(g.bytes()).isLessThanOrEqualTo(5_000);
            });
            assertThat(s.lookup(new EntryKey(A100, "other/"))).isNotNull();
            assertThat(s.stats().evictions().get(EvictionCause.GROUP_BUDGET)).isEqualTo(3);
        }
    }

    @Test
    void verify_corruptBlob_isQuarantinedAndItsEntriesNeverServed() throws IOException {
        Entry e;
        Address a;
        try (NodeStore s = open(StoreConfig.defaults())) {
            e = commit(s, H100, "victim/", bytes(5, 1000), bytes(6, 1000));
            commit(s, H100, "bystander/", bytes(7, 1000));
            a = e.files().get(0).address();
            Path p = s.blobPath(a);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
            try (var ch = Files.newByteChannel(p, StandardOpenOption.WRITE)) {
                ch.position(10);
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}));
            }
            VerifyReport r = s.verify();
            assertThat(r.clean()).isFalse();
            assertThat(r.corrupt()).containsExactly(a);
            assertThat(r.droppedEntries()).containsExactly(e.key());
            assertThat(s.lookup(e.key())).isNull();
            assertThat(s.get(a)).isNull();
            assertThat(s.exists(e.files().get(1).address()))
                    .as("the entry's other blob was freed")
                    .isFalse();
            assertThat(s.lookup(new EntryKey(H100, "bystander/"))).isNotNull();
            assertThat(filesIn(root.resolve("quarantine"))).isEqualTo(1);
            assertThat(s.verify().clean()).isTrue();
        }
        try (NodeStore s = open(StoreConfig.defaults())) {
            assertThat(s.lookup(e.key())).as("the drop is durable").isNull();
        }
    }

    @Test
    void reopen_tornJournalTail_isCutAndCommittedEntriesKept() throws IOException {
        Entry e;
        try (NodeStore s = open(StoreConfig.defaults())) {
            e = commit(s, H100, "kept/", bytes(1, 100));
        }
        Path journal = root.resolve("journal.1");
        long good = Files.size(journal);
        Files.write(journal, new byte[] {0, 0, 0, 50, 1, 2, 3, 4, 5, 6}, StandardOpenOption.APPEND);
        try (NodeStore s = open(StoreConfig.defaults())) {
            assertThat(s.lookup(e.key())).isNotNull();
            assertThat(Files.size(journal)).isEqualTo(good);
            commit(s, H100, "after/", bytes(2, 100));
        }
        try (NodeStore s = open(StoreConfig.defaults())) {
            assertThat(s.stats().entries()).isEqualTo(2);
        }
    }

    @Test
    void reopen_removesDeadProcessesTempFilesAndOrphanBlobs_andDropsEntriesWithLostBlobs() throws IOException {
        Entry lost;
        Address orphan;
        try (NodeStore s = open(StoreConfig.defaults())) {
            lost = commit(s, H100, "lost/", bytes(1, 100));
            commit(s, H100, "fine/", bytes(2, 100));
            orphan = s.put(bytes(3, 100)); // put, never committed: what a crash between put and commit leaves
            Files.write(root.resolve("tmp").resolve("deadbeef-dead.1.tmp"), bytes(4, 100));
            Files.delete(s.blobPath(lost.files().get(0).address()));
            // simulate a crash: do not close (close would delete the uncommitted blob itself)
            Files.copy(s.blobPath(orphan), root.resolve("orphan.bak"));
        }
        Files.delete(root.resolve("clean")); // the close above stands in for a crash: no clean-close marker
        Files.createDirectories(root.resolve("blobs").resolve(orphan.shard()));
        Files.copy(
                root.resolve("orphan.bak"),
                root.resolve("blobs").resolve(orphan.shard()).resolve(orphan.hex()));
        Files.delete(root.resolve("orphan.bak"));
        try (NodeStore s = open(StoreConfig.defaults())) {
            assertThat(s.lookup(lost.key())).as("never served torn").isNull();
            assertThat(s.lookup(new EntryKey(H100, "fine/"))).isNotNull();
            assertThat(s.exists(orphan)).isFalse();
            assertThat(filesIn(root.resolve("tmp"))).isZero();
            assertThat(s.stats().evictions().get(EvictionCause.LOST)).isEqualTo(1);
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void simulatedWriteFailure_leavesStoreConsistentAndUsable() throws IOException {
        AtomicLong failAfter = new AtomicLong(Long.MAX_VALUE);
        StoreConfig cfg = StoreConfig.defaults().withFaults((tmp, written, next) -> {
            if (written + next > failAfter.get()) {
                throw new IOException("No space left on device (simulated)");
            }
        });
        try (NodeStore s = open(cfg)) {
            Entry ok = commit(s, H100, "ok/", bytes(1, 200_000));
            failAfter.set(100_000);
            assertThatThrownBy(() -> commit(s, H100, "fails/", bytes(2, 200_000)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left");
            assertThat(filesIn(root.resolve("tmp"))).isZero();
            assertThat(s.stats().reservedBytes()).isZero();
            assertThat(s.lookup(new EntryKey(H100, "fails/"))).isNull();
            failAfter.set(Long.MAX_VALUE);
            commit(s, H100, "later/", bytes(3, 200_000));
            assertThat(s.lookup(ok.key())).isNotNull();
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void compaction_keepsEveryEntryAndItsRecency() throws IOException {
        AtomicLong clock = new AtomicLong();
        List<EntryKey> keys = new java.util.ArrayList<>();
        try (NodeStore s = open(StoreConfig.defaults().withClock(clock::incrementAndGet))) {
            for (int i = 0; i < 20; i++) {
                keys.add(commit(s, i % 2 == 0 ? H100 : A100, "e" + i + "/", bytes(i, 50))
                        .key());
            }
            s.recordUse(keys.get(0));
            s.compactNow();
            assertThat(root.resolve("journal.1")).doesNotExist();
            assertThat(root.resolve("journal.2")).exists();
        }
        try (NodeStore s = open(StoreConfig.defaults().withClock(clock::incrementAndGet))) {
            assertThat(s.stats().entries()).isEqualTo(20);
            assertThat(s.entries(H100).get(s.entries(H100).size() - 1).key()).isEqualTo(keys.get(0));
        }
    }

    @Test
    void open_refusesForeignNonEmptyDirectory_andASecondOpenInOneProcess() throws IOException {
        Path foreign = Files.createDirectory(root.resolve("home"));
        Files.writeString(foreign.resolve("notes.txt"), "mine");
        assertThatThrownBy(() -> NodeStore.open(foreign, StoreConfig.defaults()))
                .hasMessageContaining("not a Mithril store");
        assertThat(Files.readString(foreign.resolve("notes.txt"))).isEqualTo("mine");
        Path r = Files.createDirectory(root.resolve("store"));
        try (NodeStore s = NodeStore.open(r, StoreConfig.defaults())) {
            assertThatThrownBy(() -> NodeStore.open(r, StoreConfig.defaults())).hasMessageContaining("already open");
        }
    }

    @Test
    void streamPut_unknownSize_growsItsReservation() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(50 << 20, 50 << 20))) {
            byte[] b = bytes(3, 5 << 20);
            InputStream in = new ByteArrayInputStream(b);
            assertThat(s.put(in, -1).address()).isEqualTo(Blake3.hash(b));
            assertThat(s.stats().reservedBytes())
                    .as("uncommitted blob still reserved")
                    .isEqualTo(5 << 20);
        }
    }

    @Test
    void batchReservation_isTakenInOneStep_drawnByPuts_andWhatIsLeftGivenBackAtClose() throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(200_000, 180_000))) {
            byte[] a = bytes(1, 10_000);
            byte[] b = bytes(2, 20_000);
            byte[] big = bytes(3, 30_000);
            NodeStore.Stored wa;
            NodeStore.Stored wb;
            try (NodeStore.Reservation r = s.reserveFor(50_000)) {
                assertThat(s.stats().reservedBytes()).isEqualTo(50_000);
                wa = s.put(new ByteArrayInputStream(a), a.length, r);
                wb = s.put(new ByteArrayInputStream(b), b.length, r);
                assertThat(s.stats().reservedBytes())
                        .as("what the puts drew now stands for their uncommitted blobs")
                        .isEqualTo(50_000);
                s.put(new ByteArrayInputStream(big), big.length, r);
                assertThat(s.stats().reservedBytes())
                        .as("a put larger than what is left reserves on its own")
                        .isEqualTo(80_000);
                s.commit(
                        new EntryKey(H100, "ab/"),
                        List.of(
                                new EntryFile("a", wa.address(), wa.size(), false),
                                new EntryFile("b", wb.address(), wb.size(), false)),
                        "t");
                assertThat(s.stats().reservedBytes()).isEqualTo(50_000);
            }
            assertThat(s.stats().reservedBytes())
                    .as("the batch's unused 20,000 went back; the uncommitted blob stays reserved")
                    .isEqualTo(30_000);
            assertThat(s.stats().entries()).isEqualTo(1);
        }
    }

    @Test
    void batchReservation_thatDoesNotFit_reservesNothingAndEvictsNothing_putsThenReserveOnTheirOwn()
            throws IOException {
        try (NodeStore s = open(StoreConfig.defaults().withLimits(100_000, 100_000))) {
            Entry old = commit(s, H100, "old/", bytes(1, 80_000));
            try (NodeStore.Reservation r = s.reserveFor(50_000)) {
                assertThat(s.stats().reservedBytes()).isZero();
                assertThat(s.lookup(old.key()))
                        .as("nothing evicted for the batch")
                        .isNotNull();
                byte[] small = bytes(2, 10_000);
                assertThat(s.put(new ByteArrayInputStream(small), small.length, r)
                                .address())
                        .isEqualTo(Blake3.hash(small));
                assertThat(s.lookup(old.key())).as("it fitted without eviction").isNotNull();
                byte[] more = bytes(3, 30_000);
                s.put(new ByteArrayInputStream(more), more.length, r);
                assertThat(s.lookup(old.key()))
                        .as("a put that does not fit evicts, as without a batch")
                        .isNull();
            }
            assertThat(s.stats().reservedBytes()).isEqualTo(40_000);
        }
    }

    @Test
    void open_makesEveryShardFolder_andAPutRemakesOneRemovedSince() throws IOException {
        byte[] b = bytes(9, 3000);
        Address a = Blake3.hash(b);
        try (NodeStore s = open(StoreConfig.defaults())) {
            try (Stream<Path> shards = Files.list(root.resolve("blobs"))) {
                assertThat(shards.filter(Files::isDirectory)
                                .map(p -> p.getFileName().toString())
                                .filter(n -> n.matches("[0-9a-f]{2}"))
                                .count())
                        .isEqualTo(256);
            }
            Files.delete(root.resolve("blobs").resolve(a.shard()));
            commit(s, H100, "x/", b);
            assertThat(s.get(a)).isEqualTo(b);
        }
        try (NodeStore s = open(StoreConfig.defaults())) {
            assertThat(s.lookup(new EntryKey(H100, "x/"))).isNotNull();
            assertThat(s.verify().clean()).isTrue();
        }
    }
}
