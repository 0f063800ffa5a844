package io.mithril.agent.remote;

import io.mithril.agent.S3ProxyServer;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.source.EntrySource;
import io.mithril.agent.source.EntrySourceContract;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** A bucket on a real S3-compatible server (S3Proxy), written by the {@link Uploader}, passes the source contract. */
class RemoteSourceIT extends EntrySourceContract {
    private static S3ProxyServer server;
    private int prefixes;

    @BeforeAll
    static void server() throws Exception {
        server = RemoteTesting.server();
    }

    @Override
    protected EntrySource sourceHolding(List<Seed> seeds) throws Exception {
        RemoteConfig config = RemoteTesting.config(server, "contract-" + prefixes++ + "-" + System.nanoTime());
        Path root = Files.createDirectories(tmp.resolve("writer-" + prefixes));
        Remote remote = Remote.open(config);
        try (NodeStore store = NodeStore.open(root, StoreConfig.defaults())) {
            commitSeeds(store, seeds);
            Map<GroupId, List<String>> names = new LinkedHashMap<>();
            seeds.forEach(seed ->
                    names.computeIfAbsent(seed.group(), g -> new ArrayList<>()).add(seed.name()));
            for (Map.Entry<GroupId, List<String>> g : names.entrySet()) {
                remote.uploader().upload(store, g.getKey(), g.getValue(), System.nanoTime() + 60_000_000_000L);
            }
        }
        return remote.source();
    }
}
