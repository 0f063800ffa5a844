package io.mithril.agent.remote;

import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entries waiting to go up, persisted under the root ({@code <root>/remote/upload-queue}, one
 * {@code GROUP<TAB>NAME} a line, oldest first), so that what an {@code exec} could not upload in its
 * time, or while the remote was down, goes up with a later one, also after a restart. Every change
 * is a rewrite under a file lock, so concurrent agents on one root neither lose nor duplicate lines.
 * Bounded: past {@link #MAX} the oldest are dropped, logged and counted ({@link #dropped}).
 */
public final class UploadQueue {
    private static final Logger log = LoggerFactory.getLogger(UploadQueue.class);
    static final int MAX = 100_000;
    /** File locks are per JVM, not per thread (a second one throws): threads of one JVM queue here first. */
    private static final Object IN_PROCESS = new Object();

    private final Path file;
    private final Path lock;
    private final int max;
    /** Entries dropped because the queue was full, by this instance since it was made. */
    private final AtomicLong dropped = new AtomicLong();

    public UploadQueue(Path root) {
        this(root, MAX);
    }

    UploadQueue(Path root, int max) {
        Path dir = root.resolve("remote");
        this.file = dir.resolve("upload-queue");
        this.lock = dir.resolve("upload-queue.lock");
        this.max = max;
    }

    public void add(Collection<EntryKey> keys) throws IOException {
        if (!keys.isEmpty()) {
            update(q -> q.addAll(keys));
        }
    }

    public void remove(Collection<EntryKey> keys) throws IOException {
        if (!keys.isEmpty()) {
            Set<EntryKey> gone = new HashSet<>(keys);
            update(q -> q.removeIf(gone::contains));
        }
    }

    /** What is queued, oldest first. */
    public List<EntryKey> snapshot() throws IOException {
        if (!Files.exists(file)) {
            return List.of();
        }
        synchronized (IN_PROCESS) {
            try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock l = ch.lock()) {
                return new ArrayList<>(read());
            }
        }
    }

    /** Entries this queue dropped, oldest first, because it was full (they stay local, never uploaded). */
    public long dropped() {
        return dropped.get();
    }

    private void update(Consumer<LinkedHashSet<EntryKey>> change) throws IOException {
        Files.createDirectories(file.getParent());
        synchronized (IN_PROCESS) {
            locked(change);
        }
    }

    private void locked(Consumer<LinkedHashSet<EntryKey>> change) throws IOException {
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock l = ch.lock()) {
            LinkedHashSet<EntryKey> q = read();
            change.accept(q);
            int drop = q.size() - max;
            if (drop > 0) {
                dropped.addAndGet(drop);
                log.warn("upload queue full: the {} oldest entries are dropped (they stay local)", drop);
                var it = q.iterator();
                for (int i = 0; i < drop; i++) {
                    it.next();
                    it.remove();
                }
            }
            StringBuilder b = new StringBuilder();
            for (EntryKey k : q) {
                b.append(k.group().text()).append('\t').append(k.name()).append('\n');
            }
            Path tmp = file.resolveSibling("upload-queue.tmp");
            Files.writeString(tmp, b, StandardCharsets.UTF_8);
            try (FileChannel f = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                f.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private LinkedHashSet<EntryKey> read() throws IOException {
        LinkedHashSet<EntryKey> q = new LinkedHashSet<>();
        if (!Files.exists(file)) {
            return q;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int tab = line.indexOf('\t');
            if (tab <= 0) {
                continue;
            }
            try {
                q.add(new EntryKey(GroupId.parse(line.substring(0, tab)), line.substring(tab + 1)));
            } catch (IllegalArgumentException e) {
                log.warn("upload queue: a line that is no entry is dropped: {}", e.getMessage());
            }
        }
        return q;
    }
}
