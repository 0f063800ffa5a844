package io.mithril.agent.store;

import java.io.IOException;

/**
 * A write was refused because it would take the node over its hard limit and eviction could not
 * make room (everything left is pinned by live views, or the write alone is larger than the limit).
 */
public final class StoreFullException extends IOException {
    public StoreFullException(String message) {
        super(message);
    }
}
