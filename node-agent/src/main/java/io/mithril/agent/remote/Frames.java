package io.mithril.agent.remote;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.util.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One zstd frame per blob (docs/remote.md, "Compression"): a blob is stored compressed only where that
 * pays, and a frame is inflated only into a buffer of the size the manifest gives the blob, so a
 * frame that would inflate past it fails instead of growing. The reference C library through JNI
 * (zstd-jni); when its native part cannot be loaded, nothing is compressed and compressed blobs
 * cannot be read (they count as rejected, the entries naming them are not committed).
 */
final class Frames {
    private static final Logger log = LoggerFactory.getLogger(Frames.class);

    /** Level 3, zstd's default: ~10x on the fixture's files, fast both ways. */
    static final int LEVEL = 3;
    /** A frame is kept only when at most this share of the raw size: else the blob is stored raw. */
    static final double PAYS = 0.9;

    private static final Throwable UNAVAILABLE = probe();

    private Frames() {}

    private static Throwable probe() {
        try {
            Native.load();
            return null;
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            log.warn(
                    "zstd unavailable ({}): remote objects are written raw and compressed ones are not read",
                    e.toString());
            return e;
        }
    }

    static boolean available() {
        return UNAVAILABLE == null;
    }

    /** {@code raw} as one zstd frame, or null where that does not pay (not at least 10% smaller). */
    static byte[] compress(byte[] raw) {
        if (!available() || raw.length == 0) {
            return null;
        }
        byte[] frame = Zstd.compress(raw, LEVEL);
        return frame.length <= raw.length * PAYS ? frame : null;
    }

    /**
     * The {@code length} bytes {@code frame} inflates to, or null when it does not inflate to exactly
     * that many (malformed, truncated, or more: inflating stops at the buffer's end).
     */
    static byte[] inflate(byte[] frame, int length) {
        if (!available()) {
            return null;
        }
        byte[] out = new byte[length];
        try {
            long n = Zstd.decompressByteArray(out, 0, length, frame, 0, frame.length);
            return !Zstd.isError(n) && n == length ? out : null;
        } catch (RuntimeException malformed) {
            return null;
        }
    }
}
