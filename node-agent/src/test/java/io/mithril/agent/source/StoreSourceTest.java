package io.mithril.agent.source;

import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Another node root (a peer's, a second agent's) as an entry source passes the contract. */
class StoreSourceTest extends EntrySourceContract {
    private int roots;

    @Override
    protected EntrySource sourceHolding(List<Seed> seeds) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("source-" + roots++));
        try (NodeStore store = NodeStore.open(root, StoreConfig.defaults())) {
            commitSeeds(store, seeds);
        }
        return StoreSource.ofRoot(root, StoreConfig.defaults());
    }
}
