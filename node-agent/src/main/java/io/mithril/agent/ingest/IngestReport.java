package io.mithril.agent.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What one ingest pass did, and what it refused or deferred, by reason. */
public record IngestReport(
        int entries,
        long bytes,
        int filesRead,
        Map<String, Integer> refused,
        Map<String, Integer> deferred,
        long nanos,
        List<String> committed,
        List<String> refusals) {

    /** The names of committed entries a report keeps, at most (what a diagnosis needs is a sample). */
    public static final int MAX_NAMES = 10_000;

    /** The refused files a report names ("why: path"), at most; the counts by reason are whole. */
    public static final int MAX_REFUSALS = 20;

    public IngestReport(
            int entries,
            long bytes,
            int filesRead,
            Map<String, Integer> refused,
            Map<String, Integer> deferred,
            long nanos) {
        this(entries, bytes, filesRead, refused, deferred, nanos, List.of(), List.of());
    }

    public int refusedTotal() {
        return refused.values().stream().mapToInt(Integer::intValue).sum();
    }

    static final class Builder {
        int entries;
        long bytes;
        int filesRead;
        final Map<String, Integer> refused = new TreeMap<>();
        final Map<String, Integer> deferred = new TreeMap<>();

        final List<String> committed = new ArrayList<>();

        final List<String> refusals = new ArrayList<>();

        synchronized void add(String name, long bytes, int filesRead) {
            if (committed.size() < MAX_NAMES) {
                committed.add(name);
            }
            add(1, bytes, filesRead);
        }

        synchronized void add(int entries, long bytes, int filesRead) {
            this.entries += entries;
            this.bytes += bytes;
            this.filesRead += filesRead;
        }

        /** {@code what}: the refused file, printable. */
        synchronized void refuse(String why, String what) {
            refused.merge(why, 1, Integer::sum);
            if (refusals.size() < MAX_REFUSALS) {
                refusals.add(why + ": " + what);
            }
        }

        synchronized void defer(String why) {
            deferred.merge(why, 1, Integer::sum);
        }

        synchronized IngestReport build(long nanos) {
            return new IngestReport(
                    entries,
                    bytes,
                    filesRead,
                    Map.copyOf(refused),
                    Map.copyOf(deferred),
                    nanos,
                    List.copyOf(committed),
                    List.copyOf(refusals));
        }
    }
}
