package io.mithril.agent.source;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * A node store as a source: the node's own (what views are published from), or another root on
 * the same machine (a peer's, a second agent's). The store keeps only committed entries whose blobs
 * are present, so its listing is whole.
 */
public final class StoreSource implements EntrySource {
    private final NodeStore store;
    private final boolean owned;

    /** The store as a source; it stays open when the source closes. */
    public StoreSource(NodeStore store) {
        this(store, false);
    }

    private StoreSource(NodeStore store, boolean owned) {
        this.store = store;
        this.owned = owned;
    }

    /** Opens the store at {@code root} (another agent's, a peer's) as a source that closes it when closed. */
    public static StoreSource ofRoot(Path root, StoreConfig config) throws IOException {
        return new StoreSource(NodeStore.open(root, config), true);
    }

    @Override
    public String describe() {
        return "store " + store.root();
    }

    @Override
    public List<Entry> entries(GroupId group) throws IOException {
        store.sync(); // other processes' commits on the root
        return store.entries(group);
    }

    @Override
    public InputStream open(Address address) throws IOException {
        InputStream in = store.open(address);
        if (in == null) {
            throw new BlobNotFoundException(address, describe());
        }
        return in;
    }

    @Override
    public void close() throws IOException {
        if (owned) {
            store.close();
        }
    }
}
