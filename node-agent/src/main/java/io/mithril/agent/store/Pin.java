package io.mithril.agent.store;

import io.mithril.agent.index.EntryKey;
import java.io.IOException;
import java.util.List;

/**
 * Entries held in use by a live view: never evicted while the pin is open, in this process or in
 * any other on the same root (see {@link Leases}). Their bytes still count against the budget.
 */
public final class Pin implements AutoCloseable {
    private final NodeStore store;
    private final List<EntryKey> keys;
    private boolean closed;

    Pin(NodeStore store, List<EntryKey> keys) {
        this.store = store;
        this.keys = keys;
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            store.unpin(keys);
        }
    }
}
