package io.mithril.agent.store;

import io.mithril.api.v1alpha1.Sizes;
import java.util.Locale;

/**
 * Free space the store leaves on its filesystem, so that a cache sharing the disk with kubelet and the
 * container runtime never pushes the node into DiskPressure: an absolute size, a percentage of the
 * filesystem's size, or none. As text: {@code 15%}, {@code 20Gi}, {@code 0}.
 *
 * @param bytes   at least this many bytes stay free (0: no absolute floor)
 * @param percent at least this percentage of the filesystem stays free (0: none)
 */
public record FreeSpaceReserve(long bytes, int percent) {

    public static final FreeSpaceReserve NONE = new FreeSpaceReserve(0, 0);

    public FreeSpaceReserve {
        if (bytes < 0 || percent < 0 || percent >= 100) {
            throw new IllegalArgumentException(
                    "a free-space reserve is 0..99 % or a size >= 0, got " + bytes + " bytes, " + percent + " %");
        }
    }

    public static FreeSpaceReserve parse(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        if (t.isEmpty()) {
            return NONE;
        }
        if (t.endsWith("%")) {
            try {
                return new FreeSpaceReserve(
                        0, Integer.parseInt(t.substring(0, t.length() - 1).trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a percentage: " + text);
            }
        }
        return new FreeSpaceReserve(Sizes.parse(text.trim()), 0);
    }

    public boolean isNone() {
        return bytes == 0 && percent == 0;
    }

    /** The bytes to keep free on a filesystem of {@code totalSpace} bytes. */
    public long of(long totalSpace) {
        return Math.max(bytes, totalSpace / 100 * percent);
    }

    @Override
    public String toString() {
        return percent > 0 ? percent + "%" : ByteSize.format(bytes);
    }
}
