package io.mithril.agent.store;

import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.key.GroupId;
import java.util.List;
import java.util.Map;

/**
 * A point-in-time view of a store, for the CLI, the HTTP API and metrics. {@code indexHeapBytes}
 * is the index's heap by its estimate (what its memory ceiling compares), {@code indexMappedBytes}
 * the memory it maps from the store's disk (file cache the kernel may write back and drop).
 */
public record StoreStats(
        int entries,
        int blobs,
        long bytes,
        long reservedBytes,
        long hardLimit,
        long softLimit,
        long journalBytes,
        long indexHeapBytes,
        long indexMappedBytes,
        long hits,
        long misses,
        Map<EvictionCause, Long> evictions,
        List<Group> groups) {

    /**
     * One group's figures. {@code bytes} is logical (shared blobs count in each group using them);
     * {@code lastUseMillis} is the latest use or write of any of its entries (0: never).
     */
    public record Group(GroupId group, int entries, long bytes, Long budget, long lastUseMillis) {}
}
