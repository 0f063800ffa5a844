package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;

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

    /**
     * Asserts that {@code PREFIX/folder} holds {@code n} objects, giving the listing up to 10 s to
     * agree: S3Proxy's filesystem backend can list a key written or deleted a moment ago as it was.
     */
    void assertObjects(String folder, int n, String what) throws InterruptedException {
        Map<String, Long> now = objects(folder);
        for (int i = 0; i < 100 && now.size() != n; i++) {
            Thread.sleep(100);
            now = objects(folder);
        }
        assertThat(now).as(what).hasSize(n);
    }

    static List<String> names(List<Entry> entries) {
        return entries.stream().map(e -> e.key().name()).sorted().collect(Collectors.toList());
    }
}
