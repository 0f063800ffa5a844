package io.mithril.agent.index;

/** Why an entry left the index; counted in stats and later exported as a metric label. */
public enum EvictionCause {
    /** The node's budget: least recently used first. */
    NODE_BUDGET,
    /** A per-group budget. */
    GROUP_BUDGET,
    /** A blob of the entry failed verification and was quarantined. */
    CORRUPT,
    /** A blob of the entry was missing when the index was rebuilt. */
    LOST,
    /** Removed on request. */
    DELETED,
    /**
     * The agent's memory: more entries or files than the heap can index (a ceiling derived from
     * the JVM's maximum heap), least recently used first.
     */
    MEMORY;

    static EvictionCause of(int ordinal) {
        EvictionCause[] v = values();
        if (ordinal < 0 || ordinal >= v.length) {
            throw new IllegalArgumentException("unknown eviction cause " + ordinal);
        }
        return v[ordinal];
    }
}
