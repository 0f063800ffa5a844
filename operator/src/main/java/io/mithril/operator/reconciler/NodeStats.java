package io.mithril.operator.reconciler;

import java.util.List;
import java.util.Map;

/**
 * What one node agent reported for its groups (from its {@code /v1/stats}), as the reconciler needs
 * it. {@code hits} and {@code misses} count entries read and entries ingested for the group.
 */
public record NodeStats(String node, List<Group> groups, RemoteHeld remoteHeld) {

    /**
     * What the agent's last remote retention pass found each cache holding in the remote tier
     * ({@code at}: ISO-8601 UTC); null when that agent has run none.
     */
    public record RemoteHeld(String at, List<Held> caches) {}

    /** One CompileCache's whole entries and bytes in the remote tier. */
    public record Held(String namespace, String cache, long entries, long bytes) {}

    /** {@code runs}: pods by outcome key ({@code warm}, {@code keyChanged}, ...), as {@link io.mithril.api.v1alpha1.PodStarts} names them. */
    public record Group(
            String namespace,
            String cache,
            String device,
            String product,
            long entries,
            long bytes,
            long hits,
            long misses,
            String lastUse,
            Map<String, Long> runs,
            Remote remote) {}

    /** The group's remote tier on that node: entries and bytes fetched (remote hits), entries and bytes uploaded. */
    public record Remote(long fetched, long fetchedBytes, long uploaded, long uploadedBytes) {
        public static final Remote NONE = new Remote(0, 0, 0, 0);
    }
}
