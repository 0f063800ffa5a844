package io.mithril.agent.cli;

import io.mithril.agent.store.ByteSize;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import java.nio.file.Path;
import java.util.Locale;

/** Renders {@link StoreStats} as a table for people and as JSON for scripts. */
final class StatsFormat {

    private StatsFormat() {}

    static String text(Path root, StoreStats s) {
        StringBuilder b = new StringBuilder();
        b.append("root      ").append(root).append('\n');
        b.append(String.format(
                Locale.ROOT,
                "entries   %d%nblobs     %d%nbytes     %s (%d)%n",
                s.entries(),
                s.blobs(),
                ByteSize.format(s.bytes()),
                s.bytes()));
        b.append("limits    hard ")
                .append(limit(s.hardLimit()))
                .append(", soft ")
                .append(limit(s.softLimit()))
                .append('\n');
        b.append("reserved  ").append(ByteSize.format(s.reservedBytes())).append('\n');
        b.append("evictions ").append(s.evictions()).append('\n');
        if (!s.groups().isEmpty()) {
            b.append(String.format(Locale.ROOT, "%n%-60s %8s %12s %12s%n", "GROUP", "ENTRIES", "BYTES", "BUDGET"));
            for (StoreStats.Group g : s.groups()) {
                b.append(String.format(
                        Locale.ROOT,
                        "%-60s %8d %12s %12s%n",
                        g.group().text(),
                        g.entries(),
                        ByteSize.format(g.bytes()),
                        g.budget() == null ? "-" : ByteSize.format(g.budget())));
            }
        }
        return b.toString();
    }

    private static String limit(long v) {
        return v >= StoreConfig.UNLIMITED ? "unlimited" : ByteSize.format(v);
    }

    static String json(Path root, StoreStats s) {
        StringBuilder b = new StringBuilder("{");
        b.append("\"root\":").append(quote(root.toString()));
        b.append(",\"entries\":").append(s.entries());
        b.append(",\"blobs\":").append(s.blobs());
        b.append(",\"bytes\":").append(s.bytes());
        b.append(",\"reservedBytes\":").append(s.reservedBytes());
        b.append(",\"hardLimit\":").append(s.hardLimit() >= StoreConfig.UNLIMITED ? "null" : s.hardLimit());
        b.append(",\"softLimit\":").append(s.softLimit() >= StoreConfig.UNLIMITED ? "null" : s.softLimit());
        b.append(",\"journalBytes\":").append(s.journalBytes());
        b.append(",\"indexHeapBytes\":").append(s.indexHeapBytes());
        b.append(",\"indexMappedBytes\":").append(s.indexMappedBytes());
        b.append(",\"evictions\":{");
        String sep = "";
        for (var e : s.evictions().entrySet()) {
            b.append(sep)
                    .append(quote(e.getKey().name().toLowerCase(Locale.ROOT)))
                    .append(':')
                    .append(e.getValue());
            sep = ",";
        }
        b.append("},\"groups\":[");
        sep = "";
        for (StoreStats.Group g : s.groups()) {
            b.append(sep)
                    .append("{\"group\":")
                    .append(quote(g.group().text()))
                    .append(",\"namespace\":")
                    .append(quote(g.group().namespace()))
                    .append(",\"cache\":")
                    .append(quote(g.group().cache()))
                    .append(",\"device\":")
                    .append(quote(g.group().device().text()))
                    .append(",\"product\":")
                    .append(quote(g.group().product().slug()))
                    .append(",\"entries\":")
                    .append(g.entries())
                    .append(",\"bytes\":")
                    .append(g.bytes())
                    .append(",\"budget\":")
                    .append(g.budget() == null ? "null" : g.budget().toString())
                    .append('}');
            sep = ",";
        }
        return b.append("]}\n").toString();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
