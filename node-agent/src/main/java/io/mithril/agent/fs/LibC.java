package io.mithril.agent.fs;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import org.slf4j.LoggerFactory;

/**
 * The few libc calls Java does not offer: {@code open} with {@code O_NONBLOCK}/{@code O_NOATIME},
 * {@code openat2} with {@code RESOLVE_*}, and {@code read}/{@code close} on the descriptors they
 * return. Linux only; {@link #INSTANCE} is null elsewhere or when JNA's native part cannot load, and
 * callers fall back to what Java has.
 */
final class LibC {

    interface C extends Library {
        int open(byte[] path, int flags) throws LastErrorException;

        long read(int fd, Pointer buf, long count) throws LastErrorException;

        int close(int fd) throws LastErrorException;

        int syncfs(int fd) throws LastErrorException;

        /** Returns 0 or the error number (it does not set errno). */
        int posix_fallocate(int fd, long offset, long len);

        long syscall(long number, Object... args) throws LastErrorException;

        int mkfifo(byte[] path, int mode) throws LastErrorException;
    }

    static final C INSTANCE = load();

    static final boolean ARM64 = Platform.isARM() && Platform.is64Bit();
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_NONBLOCK = 04000;
    static final int O_CLOEXEC = 02000000;
    static final int O_PATH = 010000000;
    static final int O_NOATIME = 01000000;
    static final int O_DIRECTORY = ARM64 ? 040000 : 0200000;
    static final int O_NOFOLLOW = ARM64 ? 0100000 : 0400000;

    static final long RESOLVE_NO_XDEV = 0x01;
    static final long RESOLVE_NO_MAGICLINKS = 0x02;
    static final long RESOLVE_NO_SYMLINKS = 0x04;
    static final long RESOLVE_BENEATH = 0x08;
    /** openat2(2): the same number on every Linux architecture (it came after the tables were unified). */
    private static final long SYS_OPENAT2 = 437;

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EAGAIN = 11;
    static final int ENOSYS = 38;
    static final int ELOOP = 40;
    static final int EXDEV = 18;
    static final int E2BIG = 7;

    private LibC() {}

    private static C load() {
        if (!Platform.isLinux()) {
            return null;
        }
        try {
            return Native.load(Platform.C_LIBRARY_NAME, C.class);
        } catch (LinkageError | RuntimeException e) {
            LoggerFactory.getLogger(LibC.class).warn("native file access unavailable ({}); using Java's", e.toString());
            return null;
        }
    }

    /** openat2(dirfd, path, {flags, 0, resolve}); throws with errno on failure. */
    static int openat2(int dirfd, byte[] path, int flags, long resolve) {
        try (Memory how = new Memory(24)) {
            how.setLong(0, flags & 0xffffffffL);
            how.setLong(8, 0);
            how.setLong(16, resolve);
            return (int) INSTANCE.syscall(SYS_OPENAT2, dirfd, path, how, 24L);
        }
    }

    /** A NUL-terminated copy of a path's bytes. */
    static byte[] cString(byte[] path) {
        byte[] out = new byte[path.length + 1];
        System.arraycopy(path, 0, out, 0, path.length);
        return out;
    }
}
