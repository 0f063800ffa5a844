package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.EntryKey;
import io.mithril.agent.store.StoreFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadQueueTest {
    @TempDir
    Path root;

    private static EntryKey key(int i) {
        return new EntryKey(StoreFixture.H100, "inductor/c" + i + "/");
    }

    @Test
    void survivesANewInstance_inOrder_withoutDuplicates() throws Exception {
        new UploadQueue(root).add(List.of(key(1), key(2)));
        new UploadQueue(root).add(List.of(key(2), key(3)));
        assertThat(new UploadQueue(root).snapshot()).containsExactly(key(1), key(2), key(3));
        new UploadQueue(root).remove(List.of(key(2)));
        assertThat(new UploadQueue(root).snapshot()).containsExactly(key(1), key(3));
    }

    @Test
    void full_dropsTheOldest() throws Exception {
        UploadQueue q = new UploadQueue(root, 3);
        q.add(List.of(key(1), key(2), key(3)));
        q.add(List.of(key(4)));
        assertThat(q.snapshot()).containsExactly(key(2), key(3), key(4));
        assertThat(q.dropped()).as("counted").isEqualTo(1);
    }

    @Test
    void concurrentWriters_loseNothing() throws Exception {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int base = t * 100;
            all.add(CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 25; i++) {
                    try {
                        new UploadQueue(root).add(List.of(key(base + i)));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }));
        }
        all.forEach(CompletableFuture::join);
        assertThat(new UploadQueue(root).snapshot()).hasSize(100);
    }

    @Test
    void aLineThatIsNoEntry_isDropped() throws Exception {
        Files.createDirectories(root.resolve("remote"));
        Files.writeString(
                root.resolve("remote/upload-queue"),
                "garbage\n" + StoreFixture.H100.text() + "\tinductor/c1/\nx\t../../etc\n");
        assertThat(new UploadQueue(root).snapshot()).containsExactly(key(1));
    }
}
