package io.mithril.agent.fs;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One {@code syncfs(2)} for a whole filesystem: what {@code sync} does after {@code cp -a}, in one
 * system call instead of an {@code fdatasync} per file and an {@code fsync} per folder. Used only
 * where it reports write-back errors (Linux 5.8 and later; before, a failed write-back could pass
 * unseen), and only when JNA's native part loaded; {@link #available()} says so, and callers sync
 * file by file otherwise.
 */
public final class FilesystemSync {
    private static final boolean AVAILABLE =
            LibC.INSTANCE != null && reportsErrors(System.getProperty("os.version", ""));

    private FilesystemSync() {}

    public static boolean available() {
        return AVAILABLE;
    }

    /** Linux reports write-back errors from {@code syncfs} since 5.8. */
    static boolean reportsErrors(String osVersion) {
        String[] p = osVersion.split("[.-]", 3);
        try {
            int major = Integer.parseInt(p[0]);
            int minor = p.length > 1 ? Integer.parseInt(p[1]) : 0;
            return major > 5 || (major == 5 && minor >= 8);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** Makes everything written on the filesystem holding {@code dir} durable, data and names. */
    public static void sync(Path dir) throws IOException {
        if (!AVAILABLE) {
            throw new IllegalStateException("syncfs is not available here");
        }
        int fd;
        try {
            fd = LibC.INSTANCE.open(
                    LibC.cString(FileNames.bytes(dir)), LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException("cannot open " + dir + " to sync its filesystem (errno " + e.getErrorCode() + ")");
        }
        try {
            LibC.INSTANCE.syncfs(fd);
        } catch (LastErrorException e) {
            throw new IOException(
                    "syncfs on " + dir + " failed (errno " + e.getErrorCode() + "): written data may be lost");
        } finally {
            LibC.INSTANCE.close(fd);
        }
    }
}
