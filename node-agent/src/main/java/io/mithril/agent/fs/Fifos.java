package io.mithril.agent.fs;

import com.sun.jna.LastErrorException;
import java.io.IOException;
import java.nio.file.Path;

/** Named pipes ({@code mkfifo(3)}), which Java cannot make: for {@code exec}'s talk with a resident agent. */
public final class Fifos {

    private Fifos() {}

    /** Makes a named pipe at {@code path}, readable and writable by its owner only. */
    public static void make(Path path) throws IOException {
        if (LibC.INSTANCE == null) {
            throw new IOException("named pipes need libc, which is not available here");
        }
        try {
            LibC.INSTANCE.mkfifo(LibC.cString(FileNames.bytes(path)), 0600);
        } catch (LastErrorException e) {
            throw new IOException("mkfifo " + path + ": errno " + e.getErrorCode());
        }
    }
}
