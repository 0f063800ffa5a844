package io.mithril.agent.fs;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Gives a file its blocks before it is mapped: a write into a mapped page the filesystem cannot
 * back (a full disk) is a bus error, not an exception, so the space is claimed up front, where a
 * full disk is an {@link IOException}. {@code posix_fallocate} where libc is at hand, else zeros
 * written through the channel.
 */
public final class Preallocation {
    private static final int ENOSPC = 28;

    private Preallocation() {}

    /** Makes {@code file} (open as {@code channel}) {@code bytes} long with every block allocated. */
    public static void reserve(Path file, FileChannel channel, long bytes) throws IOException {
        if (LibC.INSTANCE != null && reserveNative(file, bytes)) {
            return;
        }
        ByteBuffer zeros = ByteBuffer.allocate(1 << 16);
        for (long at = channel.size(); at < bytes; ) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), bytes - at));
            at += channel.write(zeros, at);
        }
    }

    /** True when done; false when the call is not available here (the caller writes zeros). */
    private static boolean reserveNative(Path file, long bytes) throws IOException {
        int fd;
        try {
            fd = LibC.INSTANCE.open(LibC.cString(FileNames.bytes(file)), LibC.O_RDWR | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            return false;
        }
        try {
            int err = LibC.INSTANCE.posix_fallocate(fd, 0, bytes);
            if (err == ENOSPC) {
                throw new IOException("no space left on device for " + (bytes >> 10) + " KiB: " + file);
            }
            return err == 0;
        } catch (UnsatisfiedLinkError e) {
            return false;
        } finally {
            try {
                LibC.INSTANCE.close(fd);
            } catch (LastErrorException ignored) {
                // nothing was written through this descriptor
            }
        }
    }
}
