package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryKey;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full disk: the store on a 3 MiB tmpfs, written until the kernel says ENOSPC. Needs root
 * (CI runs as root); elsewhere it is skipped with the reason, and the simulated write failure in
 * {@link NodeStoreIT} still runs.
 */
class FullDiskIT {

    @TempDir
    Path tmp;

    Path mnt;

    @BeforeEach
    void mount() throws Exception {
        mnt = Tmpfs.mount(tmp, "3m");
    }

    @AfterEach
    void unmount() throws Exception {
        Tmpfs.unmount(mnt);
    }

    @Test
    void realENOSPC_clearErrorAndNothingAcknowledgedIsLost() throws Exception {
        List<Entry> acked = new ArrayList<>();
        IOException failure = null;
        try (NodeStore s = NodeStore.open(mnt, StoreConfig.defaults())) {
            for (int i = 0; i < 200 && failure == null; i++) {
                try {
                    acked.add(StoreFixture.commit(
                            s,
                            StoreFixture.H100,
                            "e" + i + "/",
                            StoreFixture.bytes(i, 50_000),
                            StoreFixture.bytes(10_000 + i, 20_000)));
                } catch (IOException e) {
                    failure = e;
                }
            }
            assertThat(failure).as("the tmpfs filled up").isNotNull();
            assertThat(failure.getMessage()).contains("No space left on device");
            assertThat(acked).hasSizeGreaterThan(10);
            assertThat(StoreFixture.filesIn(mnt.resolve("tmp"))).isZero();
            for (Entry e : acked) {
                assertThat(s.lookup(e.key())).isNotNull();
            }
            // free space by deleting, and the store works again
            for (int i = 0; i < acked.size() / 2; i++) {
                s.delete(acked.get(i).key());
            }
            acked.subList(0, acked.size() / 2).clear();
            acked.add(StoreFixture.commit(s, StoreFixture.H100, "after/", StoreFixture.bytes(999, 50_000)));
            assertThat(s.verify().clean()).isTrue();
        }
        try (NodeStore s = NodeStore.open(mnt, StoreConfig.defaults())) {
            for (Entry e : acked) {
                assertThat(s.lookup(e.key())).as("durable: %s", e.key()).isNotNull();
            }
            assertThat(s.verify().clean()).isTrue();
            assertThat(s.lookup(new EntryKey(StoreFixture.H100, "after/"))).isNotNull();
        }
    }
}
