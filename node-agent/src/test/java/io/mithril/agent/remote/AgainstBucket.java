package io.mithril.agent.remote;

import io.mithril.agent.S3ProxyServer;
import io.mithril.agent.index.Entry;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/** Tests against the shared {@link S3ProxyServer}: a fresh prefix per test, stores and remotes closed after it. */
abstract class AgainstBucket {
    static final long FAR = Long.MAX_VALUE / 2;

    static S3ProxyServer server;

    @TempDir
    Path tmp;

    final List<AutoCloseable> open = new ArrayList<>();
    String prefix;

    @BeforeAll
    static void server() throws Exception {
        server = RemoteTesting.server();
    }

    @BeforeEach
    void freshPrefix() {
        prefix = "t" + System.nanoTime() + "/";
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    NodeStore store(String name) throws IOException {
        NodeStore s = NodeStore.open(Files.createDirectories(tmp.resolve(name)), StoreConfig.defaults());
        open.add(s);
        return s;
    }

    Remote remote(RemoteConfig c) {
        Remote r = Remote.open(c);
        open.add(r);
        return r;
    }

    /** The objects under {@code PREFIX/folder} at the server, by key, with their sizes. */
    Map<String, Long> objects(String folder) {
        Map<String, Long> m = new HashMap<>();
        try (S3Client c = server.client()) {
            c.listObjectsV2Paginator(x -> x.bucket(server.bucket()).prefix(prefix + folder))
                    .contents()
                    .forEach(o -> m.put(o.key(), o.size()));
        }
        return m;
    }

    static List<String> names(List<Entry> entries) {
        return entries.stream().map(e -> e.key().name()).sorted().collect(Collectors.toList());
    }
}
