package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.Arena;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index's bulk is mapped from the store's disk: files that exist only while being mapped, and
 * a full disk that leaves the index on the heap instead of failing the store.
 */
class IndexArenaIT {

    @TempDir
    Path root;

    @Test
    void theIndexIsMappedFromUnlinkedFiles_andReadsBackAfterAReopen() throws Exception {
        List<Entry> committed = new ArrayList<>();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            for (int i = 0; i < 50; i++) {
                committed.add(commit(s, H100, "e" + i + "/", bytes(i, 100), bytes(1000 + i, 10)));
            }
            StoreStats st = s.stats();
            assertThat(st.indexMappedBytes()).as("a chunk and a blob slab").isGreaterThanOrEqualTo(Arena.DEFAULT_CHUNK);
            assertThat(st.indexHeapBytes()).as("only the per-entry part").isLessThan(1 << 20);
            try (var names = Files.list(root.resolve("tmp"))) {
                assertThat(names.filter(p -> p.getFileName().toString().contains(".index-")))
                        .as("unlinked once mapped")
                        .isEmpty();
            }
            for (Entry e : committed) {
                assertThat(s.lookup(e.key()).files()).isEqualTo(e.files());
            }
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            for (Entry e : committed) {
                List<EntryFile> files = s.lookup(e.key()).files();
                assertThat(files).isEqualTo(e.files());
                assertThat(s.get(files.get(0).address())).isEqualTo(bytes(committed.indexOf(e), 100));
            }
        }
    }

    @Test
    void aDiskTooFullToMapTheIndex_keepsItOnTheHeap_andTheStoreWorks() throws Exception {
        Path mnt = Tmpfs.mount(root, "8m");
        try (NodeStore s = NodeStore.open(mnt, StoreConfig.defaults())) {
            Entry e = commit(s, H100, "a/", bytes(1, 1000));
            StoreStats st = s.stats();
            assertThat(st.indexMappedBytes())
                    .as("no 64 MiB chunk on an 8 MiB disk")
                    .isLessThan(Arena.DEFAULT_CHUNK);
            assertThat(st.indexHeapBytes()).as("the heap chunk counted").isGreaterThanOrEqualTo(Arena.DEFAULT_CHUNK);
            assertThat(s.lookup(e.key()).files()).isEqualTo(e.files());
            assertThat(StoreFixture.filesIn(mnt.resolve("tmp"))).isZero();
        } finally {
            Tmpfs.unmount(mnt);
        }
    }
}
