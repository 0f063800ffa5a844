package io.mithril.agent.store;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as people write them: plain bytes ({@code 1048576}), binary units ({@code 10MiB},
 * {@code 50Gi}, {@code 1Ki}) and decimal units ({@code 10MB}, {@code 10M}, as Kubernetes quantities
 * read them). Units are case-sensitive where they differ meaningfully ({@code m} is not mega).
 */
public final class ByteSize {

    private static final Pattern SIZE = Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*([A-Za-z]*)\\s*");

    private ByteSize() {}

    public static long parse(String text) {
        Matcher m = SIZE.matcher(text == null ? "" : text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 1048576, 512MiB, 50Gi, 10GB)");
        }
        double n = Double.parseDouble(m.group(1));
        long mult = switch (m.group(2)) {
            case "", "B" -> 1L;
            case "K", "k", "KB", "kB" -> 1_000L;
            case "M", "MB" -> 1_000_000L;
            case "G", "GB" -> 1_000_000_000L;
            case "T", "TB" -> 1_000_000_000_000L;
            case "Ki", "KiB" -> 1L << 10;
            case "Mi", "MiB" -> 1L << 20;
            case "Gi", "GiB" -> 1L << 30;
            case "Ti", "TiB" -> 1L << 40;
            default -> throw new IllegalArgumentException("unknown size unit '" + m.group(2)
                    + "' in '" + text + "' (use B, KiB/Ki, MiB/Mi, GiB/Gi, TiB/Ti, or KB/MB/GB/TB)");
        };
        double bytes = n * mult;
        if (bytes > Long.MAX_VALUE / 2) {
            throw new IllegalArgumentException("size too large: '" + text + "'");
        }
        if (m.group(2).isEmpty() && m.group(1).contains(".")) {
            throw new IllegalArgumentException("a plain byte count must be whole: '" + text + "'");
        }
        return (long) Math.floor(bytes);
    }

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
