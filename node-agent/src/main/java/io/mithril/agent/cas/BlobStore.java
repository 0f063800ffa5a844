package io.mithril.agent.cas;

import io.mithril.agent.fs.FilesystemSync;
import io.mithril.agent.fs.UntrustedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Blobs on disk: {@code blobs/<first two hex>/<64 hex>}, read-only files named by the BLAKE3 of
 * their bytes.
 *
 * <p>Write protocol (what makes a blob durable and never partial): stream into
 * {@code tmp/<owner>.<n>.tmp} on the same filesystem while hashing, then link it to its address
 * if that name is free ({@code link} never replaces), without an fsync: the commit that first names
 * the blob syncs its bytes and its shard directory, for all the blobs of a batch together
 * ({@link #syncBlobs}), before its journal record is written. A reader opens
 * either the whole file or nothing. When the name is taken by a copy the caller does not know to be
 * committed (another writer's, or one a power cut left unsynced), the new copy is fsynced first
 * and renamed over it, so a durable blob is never replaced by one that is not; writers of
 * different bytes never share a name.
 *
 * <p>Blob files are never modified: deletion (eviction) is the only other change, and the store
 * does it under its lock so that a commit's existence check and a delete never interleave.
 */
public final class BlobStore {

    /** Called before each chunk is written; a test hook to simulate a full disk or an I/O error. */
    @FunctionalInterface
    public interface WriteFaults {
        WriteFaults NONE = (tmp, written, next) -> {};

        void beforeWrite(Path tmp, long written, int next) throws IOException;

        /** Told, in order, each blob whose bytes and name were just made durable by {@link #syncBlobs}. */
        default void synced(Address a) {}

        /** Told, in order, each forced journal append and the blobs its Commit records name. */
        default void journaled(Set<Address> named) {}
    }

    /** Which blobs already under their name the caller knows to be durable or to be synced before any commit names them. */
    @FunctionalInterface
    public interface Trusted {
        Trusted NONE = a -> false;

        boolean test(Address a);
    }

    /** Told the size so far before each chunk; throws to abort the write (a budget refusal). */
    @FunctionalInterface
    public interface Growth {
        Growth NONE = total -> {};

        void grow(long total) throws IOException;
    }

    public record Written(Address address, long size, boolean existed) {}

    private final Path blobs;
    private final Path tmp;
    private final Path quarantine;
    private final String tmpPrefix;
    private final WriteFaults faults;
    private final AtomicLong tmpCounter = new AtomicLong();
    /** Temp files are created 0444 ({@link #createsSealed}), so no {@code chmod} seals them. */
    private final boolean sealedAtCreate;

    public BlobStore(Path root, String tmpPrefix, WriteFaults faults) throws IOException {
        this.blobs = Files.createDirectories(root.resolve("blobs"));
        this.tmp = Files.createDirectories(root.resolve("tmp"));
        this.quarantine = Files.createDirectories(root.resolve("quarantine"));
        this.tmpPrefix = tmpPrefix;
        this.faults = faults;
        createShards();
        this.sealedAtCreate = createsSealed(tmp.resolve(tmpPrefix + ".mode.tmp"));
    }

    /**
     * Whether a file created with mode 0444 gets exactly that here (no umask bit clears a read
     * bit); then a write creates its temp file sealed and needs no {@code chmod} of its own.
     */
    private static boolean createsSealed(Path probe) throws IOException {
        Files.deleteIfExists(probe);
        try (FileChannel ignored = FileChannel.open(probe, CREATE_WRITE, SEALED)) {
            return Files.getPosixFilePermissions(probe, LinkOption.NOFOLLOW_LINKS)
                    .equals(PosixFilePermissions.fromString("r--r--r--"));
        } finally {
            Files.deleteIfExists(probe);
        }
    }

    /**
     * Creates the 256 shard folders that are missing (all of them in a new store), then syncs
     * {@code blobs/} once. A write then never makes a shard: in a new store each of the first
     * writes would otherwise create one and sync {@code blobs/}, which costs a journal commit of the
     * filesystem per shard (the largest cost of a first ingest; docs/benchmarks.md).
     */
    private void createShards() throws IOException {
        Set<String> present = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(blobs)) {
            for (Path p : ds) {
                present.add(p.getFileName().toString());
            }
        }
        boolean created = false;
        for (int i = 0; i < 256; i++) {
            String shard = HEX.charAt(i >> 4) + "" + HEX.charAt(i & 15);
            if (!present.contains(shard)) {
                try {
                    Files.createDirectory(blobs.resolve(shard));
                    created = true;
                } catch (FileAlreadyExistsException raced) {
                    // another process opening the store made it
                }
            }
        }
        if (created) {
            fsyncDir(blobs);
        }
    }

    private static final String HEX = "0123456789abcdef";
    private static final Set<StandardOpenOption> CREATE_WRITE =
            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    private static final FileAttribute<Set<PosixFilePermission>> SEALED =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r--r--r--"));

    public Path path(Address a) {
        String hex = a.hex();
        return blobs.resolve(hex.substring(0, 2)).resolve(hex);
    }

    public Path blobsDir() {
        return blobs;
    }

    public Path tmpDir() {
        return tmp;
    }

    public boolean exists(Address a) {
        return Files.isRegularFile(path(a), LinkOption.NOFOLLOW_LINKS);
    }

    /** Opens a blob for reading, or returns null if it is absent. */
    public InputStream open(Address a) throws IOException {
        try {
            return Files.newInputStream(path(a), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /**
     * Streams {@code in} into a new blob. Returns its address; {@code existed} when identical bytes
     * were already stored (the new copy is dropped and the existing blob's mtime refreshed so that
     * the orphan sweep's grace period counts from now).
     */
    public Written write(InputStream in, Growth growth) throws IOException {
        return write(in, growth, Trusted.NONE);
    }

    /**
     * As {@link #write(InputStream, Growth)}; an identical blob already under its name counts as
     * stored only if {@code trusted} accepts it (it is committed, so durable, or this process's own
     * uncommitted one, which its commit syncs). The new blob is not synced: {@link #syncBlobs} does
     * that before a commit names it.
     */
    public Written write(InputStream in, Growth growth, Trusted trusted) throws IOException {
        Path t = tmp.resolve(tmpPrefix + "." + tmpCounter.incrementAndGet() + ".tmp");
        boolean moved = false;
        try {
            Blake3 hash = new Blake3();
            long size = 0;
            try (FileChannel ch = FileChannel.open(t, CREATE_WRITE, SEALED)) {
                byte[] buf = new byte[Blake3.CHUNK];
                int n;
                while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                    growth.grow(size + n);
                    faults.beforeWrite(t, size, n);
                    hash.update(buf, 0, n);
                    ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                    while (bb.hasRemaining()) {
                        ch.write(bb);
                    }
                    size += n;
                }
            }
            Address a = hash.finish();
            Path dest = path(a);
            if (trusted.test(a) && storedWithSize(dest, size)) {
                touch(dest);
                return new Written(a, size, true);
            }
            Path shard = dest.getParent();
            if (!Files.isDirectory(shard)) { // only if something removed it since the open made them all
                try {
                    Files.createDirectory(shard);
                } catch (FileAlreadyExistsException ignored) {
                    // another writer made it
                }
                fsyncDir(blobs);
            }
            if (!sealedAtCreate) {
                Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("r--r--r--"));
            }
            try {
                Files.createLink(dest, t);
                Files.delete(t);
                moved = true;
                // Bytes and shard directory are synced at commit (syncBlobs), for a whole
                // batch at once: a blob only has to be durable before an entry names it.
                return new Written(a, size, false);
            } catch (FileAlreadyExistsException taken) {
                // a copy this process cannot vouch for: replace it only with a durable one
            }
            try (FileChannel ch = FileChannel.open(t, StandardOpenOption.READ)) {
                ch.force(true);
            }
            try {
                Files.move(t, dest, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the store's tmp/ and blobs/ must be on one filesystem", e);
            }
            moved = true;
            return new Written(a, size, false);
        } finally {
            if (!moved) {
                Files.deleteIfExists(t);
            }
        }
    }

    /**
     * Whether a blob is there with this size, in one stat: another thread's eviction may delete it
     * at any moment, and then it is simply absent (a second look, as {@code size} after
     * {@code isRegularFile}, would throw instead).
     */
    private static boolean storedWithSize(Path blob, long size) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(blob, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isRegularFile() && a.size() == size;
        } catch (NoSuchFileException absent) {
            return false;
        }
    }

    /**
     * Makes these blobs' bytes durable ({@code fdatasync}), all at once: the syncs run on several
     * threads, so the filesystem commits its journal for many files together rather than once
     * per file, and their shard directories on the same threads. Called before a commit that
     * names them is written.
     */
    public void syncBlobs(Collection<Address> addresses) throws IOException {
        if (addresses.isEmpty()) {
            return;
        }
        List<Address> list = List.copyOf(addresses);
        if (list.size() >= FS_SYNC_MIN && useFilesystemSync()) {
            // a large batch: one syncfs makes the bytes and names of all of them durable at once
            // (and whatever else is dirty on the filesystem, as `sync` would)
            FilesystemSync.sync(blobs);
            for (Address a : list) {
                faults.synced(a);
            }
            return;
        }
        // Every blob's bytes, then every shard folder that names one, on a few threads at once. All
        // of them are done before this returns, which is all the commit needs; their order among
        // themselves does not matter, and the folders come last, when the filesystem has usually
        // committed their new names with the blobs' data already.
        Set<String> names = new TreeSet<>();
        for (Address a : list) {
            names.add(a.shard());
        }
        List<Path> shards = new ArrayList<>(names.size());
        for (String sh : names) {
            shards.add(blobs.resolve(sh));
        }
        int files = list.size();
        forEachParallel(files + shards.size(), i -> {
            if (i < files) {
                syncBlob(list.get(i));
            } else {
                fsyncDir(shards.get(i - files));
            }
        });
        for (Address a : list) {
            faults.synced(a);
        }
    }

    /** One step of {@link #forEachParallel}. */
    @FunctionalInterface
    private interface IoStep {
        void run(int i) throws IOException;
    }

    /** Runs {@code step} for 0 to {@code n - 1} on up to {@link #SYNC_THREADS} threads; all done, or the first failure. */
    private static void forEachParallel(int n, IoStep step) throws IOException {
        AtomicInteger next = new AtomicInteger();
        AtomicReference<IOException> failed = new AtomicReference<>();
        Runnable worker = () -> {
            for (int i; failed.get() == null && (i = next.getAndIncrement()) < n; ) {
                try {
                    step.run(i);
                } catch (IOException e) {
                    failed.compareAndSet(null, e);
                }
            }
        };
        Thread[] pool = new Thread[Math.max(0, Math.min(SYNC_THREADS, n) - 1)];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = new Thread(worker, "mithril-blob-sync");
            pool[i].setDaemon(true);
            pool[i].start();
        }
        worker.run();
        boolean interrupted = false;
        for (Thread th : pool) {
            while (true) {
                try {
                    th.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the syncs must finish before anyone may rely on them
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failed.get() != null) {
            throw failed.get();
        }
    }

    /**
     * With {@link #useFilesystemSync}, from this many blobs in one batch on, one {@code syncfs} replaces
     * the per-file syncs (measured in docs/benchmarks.md: an ingest of the fixture's 544 files). Below
     * it, the batch's own files only: a few files should not wait for whatever else is dirty.
     */
    static final int FS_SYNC_MIN = 64;

    /**
     * {@code -Dmithril.store.syncfs=true} turns the one-syncfs batches on: for a store on a filesystem of
     * its own. Off by default: on a node the store usually shares its filesystem with containers'
     * layers and emptyDirs, and a syncfs would wait for (and force out) their dirty data too.
     */
    private static boolean useFilesystemSync() {
        return FilesystemSync.available() && "true".equals(System.getProperty("mithril.store.syncfs"));
    }

    /** Concurrent syncs of one batch: enough for the filesystem to group them, few enough to be cheap threads. */
    private static final int SYNC_THREADS = 16;

    private void syncBlob(Address a) throws IOException {
        try (FileChannel ch = FileChannel.open(path(a), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ch.force(false);
        } catch (NoSuchFileException gone) {
            throw new NoSuchFileException(gone.getFile(), null, "blob " + a + " vanished before its commit");
        }
    }

    private static void touch(Path p) {
        try {
            Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis()));
        } catch (IOException ignored) {
            // only a hint for the orphan sweep's grace period
        }
    }

    /** Deletes a blob file; absent is fine. */
    public void delete(Address a) throws IOException {
        Files.deleteIfExists(path(a));
    }

    /** Moves a blob that failed verification aside, out of the serving path, keeping its bytes for inspection. */
    public Path quarantine(Address a) throws IOException {
        Path q = quarantine.resolve(a.hex() + "." + System.currentTimeMillis());
        Files.move(path(a), q, StandardCopyOption.ATOMIC_MOVE);
        return q;
    }

    /** Re-hashes a blob; true when its bytes still match its address. Its access time is left as it was. */
    public boolean verify(Address a) throws IOException {
        return inspect(a).matches();
    }

    /** The mode every blob has: read-only for everyone, no other bits. */
    public static final int SEALED_MODE = 0444;

    /**
     * A blob as found on disk: whether its bytes match its address, its size, permission bits
     * ({@code mode & 07777}) and owner's uid.
     */
    public record Inspection(boolean matches, long size, int mode, int uid) {}

    /**
     * Re-hashes a blob and reads its mode and owner, without the read counting as a use: a blob
     * shares its inode with the hard links of live views, whose use probe is the file's access
     * time (relatime flips it at the first read after arming). So the blob is read with
     * {@code O_NOATIME} (allowed to the file's owner and to root); where that is refused, the
     * access time found before is set back afterwards. That setting back needs the same rights as
     * {@code O_NOATIME}, so it helps only where native access is missing; a workload's read that
     * falls inside the hash is then lost, which is the lesser error.
     */
    public Inspection inspect(Address a) throws IOException {
        Path p = path(a);
        Map<String, Object> before =
                Files.readAttributes(p, "unix:mode,uid,size,lastAccessTime,isRegularFile", LinkOption.NOFOLLOW_LINKS);
        if (!(Boolean) before.get("isRegularFile")) {
            return new Inspection(false, 0, (Integer) before.get("mode") & 07777, (Integer) before.get("uid"));
        }
        Address got;
        boolean atimeKept;
        try (InputStream in = UntrustedFiles.openNoAtime(p)) {
            atimeKept = in instanceof UntrustedFiles.Opened; // the O_NOATIME descriptor; else Java's plain open
            got = Blake3.hash(in);
        }
        if (!atimeKept) {
            FileTime atime = (FileTime) before.get("lastAccessTime");
            try {
                Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setTimes(null, atime, null);
            } catch (IOException notOurs) {
                // not the owner and no CAP_FOWNER: the read may show as a use
            }
        }
        return new Inspection(got.equals(a), (Long) before.get("size"), (Integer) before.get("mode") & 07777, (Integer)
                before.get("uid"));
    }

    /**
     * Gives a blob back its owner ({@code uid}) and read-only mode, never following a link. Owner
     * first: a change of owner may clear set-id bits, and the mode set last is the one that stays.
     */
    public void seal(Address a, int uid) throws IOException {
        Path p = path(a);
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r--r--r--"));
    }

    /**
     * Lists every blob by name only (no stat per file: a scan of a million blobs must stay cheap).
     * Names that are not addresses, or sit in the wrong shard, go to {@code stray} and are never
     * served, since lookups go by address.
     */
    public void scan(Consumer<Address> sink, Consumer<Path> stray) throws IOException {
        try (DirectoryStream<Path> shards = Files.newDirectoryStream(blobs)) {
            for (Path shard : shards) {
                String s = shard.getFileName().toString();
                if (s.length() != 2 || !Files.isDirectory(shard, LinkOption.NOFOLLOW_LINKS)) {
                    stray.accept(shard);
                    continue;
                }
                try (DirectoryStream<Path> files = Files.newDirectoryStream(shard)) {
                    for (Path f : files) {
                        String name = f.getFileName().toString();
                        if (!name.startsWith(s) || !Address.isValid(name)) {
                            stray.accept(f);
                            continue;
                        }
                        sink.accept(Address.parse(name));
                    }
                }
            }
        }
    }

    /** Modification time of a blob, or -1 if it is gone. */
    public long mtimeMillis(Address a) {
        try {
            return Files.readAttributes(path(a), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .lastModifiedTime()
                    .toMillis();
        } catch (IOException e) {
            return -1;
        }
    }

    public static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
