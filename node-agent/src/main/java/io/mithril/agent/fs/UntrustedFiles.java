package io.mithril.agent.fs;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Map;

/**
 * Opening files that an untrusted process wrote, without ever blocking or leaving the folder.
 *
 * <p>A workload controls what sits at every path of its view, and may change it between the agent's
 * walk and its open. A blocking open or read on such a file can hang the agent's thread: a FIFO
 * (open waits for a writer; with the writer held, read waits forever), a file under a write lease
 * ({@code F_SETLEASE}: every open waits up to {@code lease-break-time}). So a file is opened with
 * {@code O_NONBLOCK} (a FIFO opens at once, a leased file fails with {@code EAGAIN}), then checked
 * through its descriptor to be a regular file before one byte is read (reads of regular files never
 * wait on another process). The open is {@code openat2} relative to the view's folder with
 * {@code RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV}: no link in
 * any component is followed and nothing outside the folder is reached, whatever is swapped in.
 *
 * <p>Where {@code openat2} is missing (Linux before 5.6) the open is {@code open} with
 * {@code O_NOFOLLOW | O_NONBLOCK} on the whole path (the last component is never a link; a parent
 * swapped for a link is caught afterwards by the identity check). Without native access at all (not
 * Linux) the caller's Java fallback applies: {@link #available()} says which.
 */
public final class UntrustedFiles {

    private static volatile boolean openat2Works = true;

    private UntrustedFiles() {}

    /** Whether files can be opened here without blocking (Linux with JNA's native part). */
    public static boolean available() {
        return LibC.INSTANCE != null;
    }

    /** Why a file was not opened: the caller refuses the file for this reason. */
    public static final class Refused extends IOException {
        public Refused(String reason) {
            super(reason);
        }
    }

    /**
     * What the descriptor is, from {@code fstat} (the kernel's {@code /proc/self/fd} link stats the
     * open file, not a path).
     */
    public record Stat(Object fileKey, boolean regular, long size, long mtimeMillis, int nlink, int uid, int mode) {}

    /** A regular file opened for reading. Closing closes the descriptor. */
    public static final class Opened extends InputStream {
        private final int fd;
        private final Stat stat;
        private final Memory buf = new Memory(1 << 16);
        private boolean closed;

        Opened(int fd, Stat stat) {
            this.fd = fd;
            this.stat = stat;
        }

        public Stat stat() {
            return stat;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            int want = (int) Math.min(len, buf.size());
            long n;
            try {
                n = LibC.INSTANCE.read(fd, buf, want);
            } catch (LastErrorException e) {
                throw new IOException("read failed (errno " + e.getErrorCode() + ")");
            }
            if (n <= 0) {
                return -1;
            }
            buf.read(0, b, off, (int) n);
            return (int) n;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                try {
                    LibC.INSTANCE.close(fd);
                } catch (LastErrorException ignored) {
                    // nothing to do: the descriptor is gone either way
                }
                buf.close();
            }
        }
    }

    /**
     * Opens {@code dir/rel} for reading without blocking and without following any link, and
     * refuses anything that is not a regular file. {@code rel} is relative to {@code dir}.
     */
    public static Opened openBeneath(Path dir, Path rel) throws IOException {
        if (LibC.INSTANCE == null) {
            throw new IllegalStateException("native file access is not available");
        }
        int fd = -1;
        if (openat2Works) {
            int dirfd = openDir(dir);
            try {
                fd = LibC.openat2(
                        dirfd,
                        LibC.cString(FileNames.bytes(rel)),
                        LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_NOFOLLOW | LibC.O_CLOEXEC,
                        LibC.RESOLVE_BENEATH
                                | LibC.RESOLVE_NO_SYMLINKS
                                | LibC.RESOLVE_NO_MAGICLINKS
                                | LibC.RESOLVE_NO_XDEV);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == LibC.ENOSYS || e.getErrorCode() == LibC.E2BIG) {
                    openat2Works = false; // an old kernel (or a seccomp filter): the fallback below
                } else {
                    throw refusal(e.getErrorCode());
                }
            } finally {
                closeQuietly(dirfd);
            }
        }
        if (fd < 0) {
            try {
                fd = LibC.INSTANCE.open(
                        LibC.cString(FileNames.bytes(dir.resolve(rel))),
                        LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
            } catch (LastErrorException e) {
                throw refusal(e.getErrorCode());
            }
        }
        Stat st;
        try {
            st = fstat(fd);
        } catch (IOException | RuntimeException e) {
            closeQuietly(fd);
            throw e;
        }
        if (!st.regular()) {
            closeQuietly(fd);
            throw new Refused("special file");
        }
        return new Opened(fd, st);
    }

    /**
     * Opens one of the store's own files for reading without updating its access time
     * ({@code O_NOATIME}), so the store's checks never look like a workload's use of a linked file.
     * Falls back to a plain open where that is not allowed (not the file's owner, no native access).
     */
    public static InputStream openNoAtime(Path p) throws IOException {
        if (LibC.INSTANCE != null) {
            try {
                int fd = LibC.INSTANCE.open(
                        LibC.cString(FileNames.bytes(p.toAbsolutePath())),
                        LibC.O_RDONLY | LibC.O_NOATIME | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
                return new Opened(fd, null);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == LibC.ENOENT) {
                    throw new NoSuchFileException(p.toString());
                }
                // EPERM: not ours; anything else: let Java's open report it
            }
        }
        return Files.newInputStream(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    }

    private static int openDir(Path dir) throws IOException {
        try {
            return LibC.INSTANCE.open(
                    LibC.cString(FileNames.bytes(dir.toAbsolutePath())),
                    LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException("cannot open folder " + dir + " (errno " + e.getErrorCode() + ")");
        }
    }

    static Stat fstat(int fd) throws IOException {
        Path self = Path.of("/proc/self/fd/" + fd);
        BasicFileAttributes a = Files.readAttributes(self, PosixFileAttributes.class); // follows the descriptor's link
        Map<String, Object> u = Files.readAttributes(self, "unix:nlink,uid,mode");
        return new Stat(
                a.fileKey(),
                a.isRegularFile(),
                a.size(),
                a.lastModifiedTime().toMillis(),
                (Integer) u.get("nlink"),
                (Integer) u.get("uid"),
                (Integer) u.get("mode"));
    }

    private static Refused refusal(int errno) {
        return new Refused(
                switch (errno) {
                    case LibC.EAGAIN -> "file held by a lease";
                    case LibC.ELOOP -> "symlink";
                    case LibC.EXDEV -> "outside the view";
                    case LibC.ENOENT -> "replaced during ingest";
                    default -> "cannot open (errno " + errno + ")";
                });
    }

    private static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                LibC.INSTANCE.close(fd);
            } catch (LastErrorException ignored) {
                // already closed
            }
        }
    }
}
