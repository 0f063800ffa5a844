package io.mithril.agent.framework;

import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The modification times a FlashInfer op folder must have in a view for ninja to find it up to date.
 *
 * <p>Ninja (which FlashInfer runs in {@code cached_ops/<op>/}, {@code flashinfer/jit/cpp_ext.py})
 * rebuilds an output when it is older than an input, when its {@code .ninja_log} line records an
 * mtime older than an input, or when it is newer than the mtime {@code .ninja_deps} recorded with
 * its header dependencies. A plain copy has the time of the copy, newer than what both logs recorded:
 * everything would be rebuilt. So in a view each output gets the mtime its log line recorded (that is
 * the mtime it had when ninja wrote both logs), and every other file of the unit, inputs such as the
 * sources FlashInfer generates, gets {@link #INPUT_TIME}, older than any output.
 */
public final class NinjaLog {

    /** The time of the files of a FlashInfer unit that no ninja log line names (inputs, ninja's own files). */
    public static final FileTime INPUT_TIME = FileTime.from(Instant.parse("2000-01-01T00:00:00Z"));

    private NinjaLog() {}

    /**
     * @param entryName the unit ({@code flashinfer/.cache/flashinfer/<archs>/cached_ops/<op>/})
     * @param paths     its files' paths inside the unit
     * @param log       the unit's {@code .ninja_log}, or null when it has none
     * @return the time each file is to have in a view
     */
    public static Map<String, FileTime> publishTimes(String entryName, Collection<String> paths, byte[] log) {
        Map<String, FileTime> out = new HashMap<>();
        for (String p : paths) {
            out.put(p, INPUT_TIME);
        }
        if (log == null) {
            return out;
        }
        String trimmed = entryName.endsWith("/") ? entryName.substring(0, entryName.length() - 1) : entryName;
        String unitFolder = trimmed.substring(trimmed.lastIndexOf('/') + 1);
        for (String line : new String(log, StandardCharsets.UTF_8).split("\n")) {
            // "# ninja log v5" then: start_ms TAB end_ms TAB mtime TAB output path TAB command hash
            String[] f = line.split("\t");
            if (line.startsWith("#") || f.length < 5) {
                continue;
            }
            long mtime;
            try {
                mtime = Long.parseLong(f[2].trim());
            } catch (NumberFormatException e) {
                continue;
            }
            String output = f[3];
            for (String p : paths) {
                if (output.equals(p) || output.endsWith("/" + unitFolder + "/" + p)) {
                    // ninja >= 1.10 logs nanoseconds; older versions seconds. Later lines win (the log appends).
                    out.put(
                            p,
                            mtime > 100_000_000_000L
                                    ? FileTime.from(mtime, TimeUnit.NANOSECONDS)
                                    : FileTime.from(mtime, TimeUnit.SECONDS));
                }
            }
        }
        return out;
    }
}
