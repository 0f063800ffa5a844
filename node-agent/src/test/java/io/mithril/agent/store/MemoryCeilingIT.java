package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.EntryKey;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.index.Index;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store that would outgrow the heap its index may take evicts least recently used entries
 * (cause MEMORY, counted, journaled) instead of running the agent out of memory: at commit, and
 * at an open that replays a journal written by an agent with more heap.
 */
class MemoryCeilingIT {

    @TempDir
    Path root;

    /** What the index's estimate charges for one single-file entry with its own blob. */
    static final long ONE = Index.ENTRY_HEAP + Index.FILE_HEAP + Index.BLOB_HEAP;

    static EntryKey key(int i) {
        return new EntryKey(H100, "e" + i + "/");
    }

    @Test
    void commitsPastTheCeiling_evictTheOldest_andPinsAndTheNewEntryStay() throws IOException {
        StoreConfig c = StoreConfig.defaults().withIndexHeap(10 * ONE);
        try (NodeStore s = NodeStore.open(root, c)) {
            for (int i = 0; i < 10; i++) {
                commit(s, H100, "e" + i + "/", bytes(i, 100));
            }
            assertThat(s.stats().entries()).isEqualTo(10);
            try (Pin pin = s.pin(List.of(key(0)))) {
                commit(s, H100, "e10/", bytes(10, 100));
                // down to 95 % of the ceiling: two go, the oldest unpinned ones
                assertThat(s.lookup(key(0))).as("pinned").isNotNull();
                assertThat(s.lookup(key(1))).isNull();
                assertThat(s.lookup(key(2))).isNull();
                assertThat(s.lookup(key(3))).isNotNull();
                assertThat(s.lookup(key(10))).as("the entry just committed").isNotNull();
            }
            StoreStats st = s.stats();
            assertThat(st.entries()).isEqualTo(9);
            assertThat(st.evictions().get(EvictionCause.MEMORY)).isEqualTo(2);
            assertThat(st.blobs())
                    .as("the evicted entries' blobs went with them")
                    .isEqualTo(9);
        }
        // the evictions were journaled: a reopen with all the heap in the world sees the same
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.lookup(key(2))).isNull();
            assertThat(s.lookup(key(0))).isNotNull();
        }
    }

    @Test
    void anOpenReplayingMoreThanTheHeapHolds_evictsAsItReplays_andJournalsIt() throws IOException {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            for (int i = 0; i < 40; i++) {
                commit(s, H100, "e" + i + "/", bytes(i, 100));
            }
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withIndexHeap(20 * ONE))) {
            StoreStats st = s.stats();
            assertThat(st.entries()).isLessThanOrEqualTo(20).isGreaterThanOrEqualTo(18);
            assertThat(st.evictions().get(EvictionCause.MEMORY)).isEqualTo(40 - st.entries());
            assertThat(s.lookup(key(0))).as("the oldest went").isNull();
            assertThat(s.lookup(key(39))).as("the newest stayed").isNotNull();
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.stats().entries())
                    .as("journaled, and the blobs deleted with them")
                    .isLessThanOrEqualTo(20);
            VerifyReport v = s.verify();
            assertThat(v.droppedEntries()).isEmpty();
            assertThat(v.orphansRemoved())
                    .as("the evicted entries' blobs were deleted")
                    .isZero();
        }
    }
}
