package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.index.Entry;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The free-space reserve on a real small filesystem: an 8 MiB tmpfs, as {@link FullDiskIT} uses one.
 * Needs root (CI runs as root); skipped elsewhere with the reason.
 */
class FreeSpaceGuardIT {

    static final long MIB = 1L << 20;

    @TempDir
    Path tmp;

    Path mnt;

    @BeforeEach
    void mount() throws Exception {
        mnt = Tmpfs.mount(tmp, "8m");
    }

    @AfterEach
    void unmount() throws Exception {
        Tmpfs.unmount(mnt);
    }

    long usable() throws IOException {
        return Files.getFileStore(mnt).getUsableSpace();
    }

    /**
     * Commits 40 entries of 200 KB (8 MB, the whole tmpfs) and checks the free space after each commit;
     * each holds a pin when {@code pin}, so that nothing can be evicted. Returns those committed before
     * the store refused one.
     */
    List<Entry> fill(NodeStore s, long reserve, String prefix, boolean pin) throws IOException {
        List<Entry> acked = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            try {
                Entry e = StoreFixture.commit(
                        s, StoreFixture.H100, prefix + i + "/", StoreFixture.bytes(prefix.hashCode() + i, 200_000));
                acked.add(e);
                if (pin) {
                    s.pin(List.of(e.key()));
                }
            } catch (StoreFullException full) {
                assertThat(full.getMessage()).contains("free-space reserve");
                return acked;
            }
            assertThat(usable()).as("free space after commit %d", i).isGreaterThanOrEqualTo(reserve);
        }
        return acked;
    }

    @Test
    void absoluteReserve_unlimitedBudget_evictsToKeepTheReserve_neverRunsIntoENOSPC() throws Exception {
        try (NodeStore s =
                NodeStore.open(mnt, StoreConfig.defaults().withFreeSpaceReserve(FreeSpaceReserve.parse("3Mi")))) {
            List<Entry> acked = fill(s, 3 * MIB, "a", false);
            assertThat(acked).as("every write found room by eviction").hasSize(40);
            assertThat(s.lookup(acked.get(0).key())).as("the oldest went").isNull();
            assertThat(s.lookup(acked.get(39).key())).isNotNull();
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void absoluteReserve_everythingPinned_refusesTheWriteBeforeTheReserve() throws Exception {
        try (NodeStore s =
                NodeStore.open(mnt, StoreConfig.defaults().withFreeSpaceReserve(FreeSpaceReserve.parse("3Mi")))) {
            List<Entry> acked = fill(s, 3 * MIB, "a", true);
            assertThat(acked)
                    .as("it wrote until near the reserve, then refused")
                    .hasSizeBetween(10, 39);
            assertThatThrownBy(() -> StoreFixture.commit(s, StoreFixture.H100, "over/", StoreFixture.bytes(7, 200_000)))
                    .isInstanceOf(StoreFullException.class)
                    .hasMessageContaining("free-space reserve");
            assertThat(usable()).isGreaterThanOrEqualTo(3 * MIB);
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void percentReserve_isOfTheFilesystemsSize() throws Exception {
        FileStore fs = Files.getFileStore(mnt);
        try (NodeStore s =
                NodeStore.open(mnt, StoreConfig.defaults().withFreeSpaceReserve(FreeSpaceReserve.parse("50%")))) {
            assertThat(fill(s, fs.getTotalSpace() / 2, "p", true)).hasSizeLessThan(20);
            assertThat(usable()).isGreaterThanOrEqualTo(fs.getTotalSpace() / 2);
        }
    }

    @Test
    void filesystemFilledByOthers_nextWriteEvictsTheLeastRecentlyUsed_toKeepTheReserve() throws Exception {
        try (NodeStore s = NodeStore.open(
                mnt, StoreConfig.defaults().withBudget(4 * MIB).withFreeSpaceReserve(FreeSpaceReserve.parse("2Mi")))) {
            List<Entry> acked = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                acked.add(StoreFixture.commit(
                        s, StoreFixture.H100, "old" + i + "/", StoreFixture.bytes(100 + i, 200_000)));
            }
            // kubelet, containerd or a pod's emptyDir take the disk
            Files.write(mnt.resolve("other-tenant"), new byte[(int) (usable() - 3 * MIB)]);
            Entry fresh = StoreFixture.commit(s, StoreFixture.H100, "new/", StoreFixture.bytes(999, 200_000));
            assertThat(s.lookup(fresh.key())).isNotNull();
            assertThat(s.lookup(acked.get(0).key()))
                    .as("the oldest went to make room")
                    .isNull();
            assertThat(usable()).isGreaterThanOrEqualTo(2 * MIB);
            assertThat(s.verify().clean()).isTrue();
        }
    }
}
