package io.mithril.agent.store;

import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/**
 * What each live process on a root holds that others must respect: its pinned entries and the
 * bytes it has reserved for writes not yet committed.
 *
 * <p>Each process owns {@code leases/<id>.lease} and holds an exclusive lock on it for as long as it
 * lives; the kernel drops the lock when the process dies, however it dies. A lease whose lock can
 * be taken is therefore stale: its pins and reservations are void and it is deleted, along with the
 * owner's temp files. Lease files are written and read only under the store lock, so a reader never
 * sees one half-written; the owner rewrites its own in place (a rename would lose the lock).
 *
 * <p>POSIX record locks belong to the process and are released when the process closes any
 * descriptor of the file, so this process never opens its own lease except through {@link #own}.
 */
final class Leases implements Closeable {

    private final Path dir;
    private final String id = UUID.randomUUID().toString();
    private final FileChannel own;
    private final FileLock lock;

    /** The pins and reservations of the other live processes, read under the store lock. */
    record Others(Set<EntryKey> pinned, long reserved, Set<String> liveIds) {}

    Leases(Path root) throws IOException {
        this.dir = Files.createDirectories(root.resolve("leases"));
        this.own = FileChannel.open(
                dir.resolve(id + ".lease"),
                StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        this.lock = own.lock();
    }

    String id() {
        return id;
    }

    /** Rewrites this process's lease. Call under the store lock. */
    void write(long reserved, Collection<EntryKey> pins) throws IOException {
        StringBuilder b = new StringBuilder("reserved ").append(reserved).append('\n');
        for (EntryKey k : pins) {
            b.append("pin ")
                    .append(k.group().text())
                    .append('\t')
                    .append(k.name())
                    .append('\n');
        }
        ByteBuffer buf = ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.UTF_8));
        own.truncate(0);
        long pos = 0;
        while (buf.hasRemaining()) {
            pos += own.write(buf, pos);
        }
    }

    /** Reads every other live lease; deletes stale ones. Call under the store lock. */
    Others readOthers() throws IOException {
        Set<EntryKey> pinned = new HashSet<>();
        Set<String> live = new HashSet<>();
        long reserved = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.lease")) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                String leaseId = name.substring(0, name.length() - ".lease".length());
                if (leaseId.equals(id)) {
                    continue;
                }
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    FileLock probe;
                    try {
                        probe = ch.tryLock();
                    } catch (OverlappingFileLockException sameJvm) {
                        probe = null;
                    }
                    if (probe != null) {
                        Files.deleteIfExists(p);
                        markCrashed();
                        continue;
                    }
                    live.add(leaseId);
                    String text = new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
                    reserved += parse(text, pinned);
                } catch (NoSuchFileException gone) {
                    // its owner closed it meanwhile
                }
            }
        }
        return new Others(pinned, reserved, live);
    }

    private static long parse(String text, Set<EntryKey> pinned) {
        long reserved = 0;
        for (String line : text.split("\n")) {
            try {
                if (line.startsWith("reserved ")) {
                    reserved = Long.parseLong(line.substring(9).trim());
                } else if (line.startsWith("pin ")) {
                    int tab = line.indexOf('\t');
                    pinned.add(new EntryKey(GroupId.parse(line.substring(4, tab)), line.substring(tab + 1)));
                }
            } catch (RuntimeException malformed) {
                // a lease is written by our own code; a damaged line only loses that pin
            }
        }
        return reserved;
    }

    /**
     * A dead process's lease was found: it died without closing, and may have left orphan blobs.
     * Recorded in {@code leases/crashed} so that no process marks a later close clean (which would
     * let the next open skip the scan that finds them) until a full reconcile, alone on the root,
     * has swept them.
     */
    private void markCrashed() throws IOException {
        Path f = dir.resolve(CRASHED);
        if (!Files.exists(f)) {
            try {
                Files.createFile(f);
            } catch (FileAlreadyExistsException raced) {
                return;
            }
            BlobStore.fsyncDir(dir);
        }
    }

    /** Whether a process died without closing since the last full reconcile alone on the root. */
    boolean crashSeen() {
        return Files.exists(dir.resolve(CRASHED));
    }

    /** After a full reconcile with no other process alive: what dead processes left is swept. */
    void clearCrashed() throws IOException {
        if (Files.deleteIfExists(dir.resolve(CRASHED))) {
            BlobStore.fsyncDir(dir);
        }
    }

    private static final String CRASHED = "crashed";

    @Override
    public void close() throws IOException {
        try {
            Files.deleteIfExists(dir.resolve(id + ".lease"));
        } finally {
            lock.release();
            own.close();
        }
    }
}
