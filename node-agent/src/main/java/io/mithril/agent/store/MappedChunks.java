package io.mithril.agent.store;

import io.mithril.agent.fs.Preallocation;
import io.mithril.agent.index.Arena;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The index's memory, mapped from files on the store's disk: each chunk a file in {@code tmp/},
 * given its blocks (so a full disk fails here, not at a later write into the map), mapped, and
 * unlinked at once. The kernel counts the pages as file cache, which it can write back and drop
 * under the agent's memory limit; nothing is left on disk after a crash, and the space goes back
 * when the map does (when the last entry read from it is collected).
 */
final class MappedChunks implements Arena.Source {
    private final Path dir;
    private final String owner;
    private final AtomicLong counter = new AtomicLong();

    MappedChunks(Path dir, String owner) {
        this.dir = dir;
        this.owner = owner;
    }

    @Override
    public ByteBuffer allocate(int bytes) throws IOException {
        Path f = dir.resolve(owner + ".index-" + counter.incrementAndGet() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                f,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
                StorePermissions.PRIVATE_FILE)) {
            Preallocation.reserve(f, ch, bytes);
            return ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes);
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
