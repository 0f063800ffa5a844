package io.mithril.agent.ingest;

import java.util.Map;
import java.util.TreeMap;

/** What one ingest pass did, and what it refused or deferred, by reason. */
public record IngestReport(int entries, long bytes, int filesRead, Map<String, Integer> refused,
        Map<String, Integer> deferred, long nanos) {

    public int refusedTotal() {
        return refused.values().stream().mapToInt(Integer::intValue).sum();
    }

    static final class Builder {
        int entries;
        long bytes;
        int filesRead;
        final Map<String, Integer> refused = new TreeMap<>();
        final Map<String, Integer> deferred = new TreeMap<>();

        synchronized void add(int entries, long bytes, int filesRead) {
            this.entries += entries;
            this.bytes += bytes;
            this.filesRead += filesRead;
        }

        synchronized void refuse(String why) {
            refused.merge(why, 1, Integer::sum);
        }

        synchronized void defer(String why) {
            deferred.merge(why, 1, Integer::sum);
        }

        synchronized IngestReport build(long nanos) {
            return new IngestReport(entries, bytes, filesRead, Map.copyOf(refused), Map.copyOf(deferred), nanos);
        }
    }
}
