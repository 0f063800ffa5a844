package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.JavaChild;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two processes with four threads each commit overlapping content (and replace each other's
 * versions of the same entry names) on one root at the same time, while a third party, this JVM,
 * reads. Nothing may be corrupted, and the index's byte count must equal the bytes on disk.
 */
class ConcurrencyIT {

    @TempDir
    Path tmp;

    @Test
    void twoProcessesFourThreadsEach_overlappingContent_noCorruptionAndExactSizes() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("store"));
        try (NodeStore init = NodeStore.open(root, StoreConfig.defaults())) {
            init.sync();
        }
        Process a = JavaChild.builder(StoreWorker.class, root.toString(), "concurrent", "1", "4", "40")
                .redirectErrorStream(true)
                .start();
        Process b = JavaChild.builder(StoreWorker.class, root.toString(), "concurrent", "2", "4", "40")
                .redirectErrorStream(true)
                .start();
        String outA = new String(a.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String outB = new String(b.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(a.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(b.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(outA).contains("DONE");
        assertThat(outB).contains("DONE");
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            VerifyReport v = s.verify();
            assertThat(v.clean()).as(v.toString()).isTrue();
            StoreStats st = s.stats();
            assertThat(st.bytes()).isEqualTo(StoreFixture.blobBytesOnDisk(root));
            assertThat((long) st.blobs()).isEqualTo(StoreFixture.filesIn(root.resolve("blobs")));
            assertThat(st.entries()).isGreaterThan(320);
            for (GroupId g : List.of(StoreWorker.KEEP, StoreWorker.CHURN)) {
                for (Entry e : s.entries(g)) {
                    for (EntryFile f : e.files()) {
                        byte[] bytes = s.get(f.address());
                        assertThat(bytes)
                                .as("%s %s", e.key(), f.path())
                                .isNotNull()
                                .hasSize((int) f.size());
                        assertThat(Blake3.hash(bytes)).isEqualTo(f.address());
                    }
                }
            }
        }
    }

    @Test
    void manyThreadsInOneProcess_overlappingContent() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("one"));
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            StoreWorker.concurrent(s, 7, 8, 30, root);
            assertThat(s.verify().clean()).isTrue();
            assertThat(s.stats().bytes()).isEqualTo(StoreFixture.blobBytesOnDisk(root));
        }
    }
}
