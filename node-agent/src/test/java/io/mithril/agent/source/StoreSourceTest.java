package io.mithril.agent.source;

import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Another node root (a peer's, a second agent's) as an entry source passes the contract. */
class StoreSourceTest extends EntrySourceContract {
    private int roots;

    @Override
    protected EntrySource sourceHolding(List<Seed> seeds) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("source-" + roots++));
        try (NodeStore store = NodeStore.open(root, StoreConfig.defaults())) {
            for (Seed seed : seeds) {
                List<EntryFile> files = new ArrayList<>();
                for (SeedFile f : seed.files()) {
                    NodeStore.Stored w = store.put(new ByteArrayInputStream(f.bytes()), f.bytes().length);
                    files.add(new EntryFile(f.path(), w.address(), w.size(), f.executable()));
                }
                store.commit(new EntryKey(seed.group(), seed.name()), files, "seed");
            }
        }
        return StoreSource.ofRoot(root, StoreConfig.defaults());
    }
}
