package io.mithril.agent.store;

import java.util.Locale;

/**
 * Sizes for people to read. Sizes as text are read by {@link io.mithril.api.v1alpha1.Sizes#parse},
 * the rule the operator follows too.
 */
public final class ByteSize {

    private ByteSize() {}

    /** Human form with a binary unit, e.g. {@code 14.2 MiB}. */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int i = -1;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }
}
