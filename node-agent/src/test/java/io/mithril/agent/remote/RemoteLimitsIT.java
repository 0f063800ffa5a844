package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.BadRemotes;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.RemoteConfig.Limits;
import io.mithril.agent.remote.RemoteStats.Circuit;
import io.mithril.agent.remote.RemoteStats.Operation;
import io.mithril.agent.remote.RemoteStats.Result;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFixture;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The circuit breaker against a remote that is killed, stalled or throttling (a second fill while
 * open costs no request and no waiting; it closes again when the server is back), and the upload
 * bandwidth limit, measured as bytes over time with a wide margin.
 */
class RemoteLimitsIT extends AgainstBucket {
    private static final GroupId G = StoreFixture.H100;
    /** Where the circuit must close again within the test: short, but longer than a loaded machine's pause. */
    private static final Duration COOL_DOWN = Duration.ofSeconds(3);
    /** Where it must stay open through the test's next steps. */
    private static final Duration STAYS_OPEN = Duration.ofSeconds(60);

    private static RemoteConfig breaking(RemoteConfig c, Duration coolDown) {
        return c.withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), 2)
                .withLimits(Limits.DEFAULTS.withBreaker(2, coolDown));
    }

    /** Two failed fills open the circuit; the third is refused at once without a request. */
    private static void opensThenRefusesAtOnce(Remote r, NodeStore fresh, AtomicInteger atServer) throws Exception {
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> new Filler(fresh).fill(r.source(), G, e -> true, FAR))
                    .isInstanceOf(IOException.class);
        }
        assertThat(r.stats().circuit()).isEqualTo(Circuit.OPEN);
        long sent = r.stats().requests();
        int seen = atServer != null ? atServer.get() : -1;
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> new Filler(fresh).fill(r.source(), G, e -> true, FAR))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("circuit is open");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms)
                .as("ms for a fill while open: less than one request's timeout")
                .isLessThan(900);
        assertThat(r.stats().requests()).as("requests sent while open").isEqualTo(sent);
        if (atServer != null) {
            assertThat(atServer.get()).as("requests the server saw while open").isEqualTo(seen);
        }
        assertThat(r.stats().requests(Operation.LIST, Result.REFUSED)).isEqualTo(1);
        assertThat(r.stats().requests(Operation.LIST, Result.ERROR)).isEqualTo(2);
    }

    @Test
    void killedServer_opensTheCircuit_andItClosesWhenTheServerIsBack() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "inductor/x/", "x".getBytes());
        remote(RemoteTesting.config(server, prefix)).uploader().upload(a, G, List.of("inductor/x/"), FAR);
        Remote r = remote(breaking(RemoteTesting.config(server, prefix), COOL_DOWN));
        NodeStore fresh = store("fresh");
        server.kill();
        try {
            opensThenRefusesAtOnce(r, fresh, null);
            NodeStore queued = store("queued");
            StoreFixture.commit(queued, G, "inductor/q/", "q".getBytes());
            UploadQueue q = new UploadQueue(queued.root());
            q.add(names(queued.entries(G)).stream().map(n -> new EntryKey(G, n)).toList());
            assertThatThrownBy(() -> r.uploader().drain(queued, q, FAR)).isInstanceOf(IOException.class);
            assertThat(q.snapshot()).as("uploads stay queued while open").hasSize(1);
        } finally {
            server.start();
        }
        Thread.sleep(COOL_DOWN.multipliedBy(3).dividedBy(2).toMillis() + 100); // past the cool-down and its jitter
        Filler.Report back = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(back.committed()).isEqualTo(1);
        assertThat(r.stats().circuit()).isEqualTo(Circuit.CLOSED);
        assertThat(r.stats().circuitOpened()).isEqualTo(1);
        assertThat(r.stats().bytesDown()).isGreaterThan(0);
    }

    @Test
    void throttlingServer_503_opensTheCircuit_noRequestWhileOpen() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        Remote r = remote(breaking(at(BadRemotes.throttling(seen, open)), STAYS_OPEN));
        opensThenRefusesAtOnce(r, store("fresh"), seen);
    }

    @Test
    void stalledServer_opensTheCircuit_theNextFillDoesNotWait() throws Exception {
        Remote r = remote(breaking(at(BadRemotes.stalled(open)), STAYS_OPEN));
        opensThenRefusesAtOnce(r, store("fresh"), null);
    }

    private RemoteConfig at(int port) {
        RemoteConfig c = RemoteTesting.config(server, prefix);
        return new RemoteConfig(
                c.bucket(),
                c.prefix(),
                URI.create("http://127.0.0.1:" + port),
                c.region(),
                c.credentials(),
                RemoteTesting.KEY,
                c.connectTimeout(),
                c.requestTimeout(),
                c.maxAttempts(),
                false,
                c.limits());
    }

    @Test
    void uploadBandwidth_isBounded() throws Exception {
        long limit = 1 << 20; // 1 MiB/s; the bucket's burst is one second's worth
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "triton/BIG/", StoreFixture.bytes(3, 3 << 20));
        StoreFixture.commit(a, G, "inductor/small/", StoreFixture.bytes(4, 500_000));
        Remote r = remote(RemoteTesting.config(server, prefix).withLimits(Limits.DEFAULTS.withUpload(limit, 2)));
        long t0 = System.nanoTime();
        Uploader.Report up = r.uploader().upload(a, G, names(a.entries(G)), FAR);
        double s = (System.nanoTime() - t0) / 1e9;
        assertThat(up.uploaded()).isEqualTo(2);
        long bytes = r.stats().bytesUp();
        assertThat(bytes).isGreaterThanOrEqualTo(3_500_000L);
        // 3.5 MB at 1 MiB/s with a 1 MiB burst: at least ~2.3 s; allow a wide margin either way
        assertThat(s).as("seconds for %d bytes", bytes).isGreaterThan(1.8);
        assertThat(bytes / s).as("bytes/s").isLessThan(1.6 * limit);
        assertThat(r.stats().requests(Operation.PUT, Result.OK)).isEqualTo(3); // the loose blob, the pack, the manifest
    }

    @Test
    void onePass_putsInParallel_withinTheConcurrencyAndTheBandwidth_manifestLast() throws Exception {
        long limit = 4 << 20;
        int concurrency = 3;
        NodeStore a = store("a");
        for (int i = 0; i < 8; i++) {
            StoreFixture.commit(a, G, "triton/L" + i + "/", StoreFixture.bytes(20 + i, 1_200_000)); // loose, raw
        }
        for (int i = 0; i < 40; i++) {
            StoreFixture.commit(a, G, "inductor/s" + i + "/", StoreFixture.bytes(40 + i, 50_000)); // one pack
        }
        Remote r =
                remote(RemoteTesting.config(server, prefix).withLimits(Limits.DEFAULTS.withUpload(limit, concurrency)));
        long t0 = System.nanoTime();
        Uploader.Report up = r.uploader().upload(a, G, names(a.entries(G)), FAR);
        double s = (System.nanoTime() - t0) / 1e9;
        assertThat(up.uploaded()).isEqualTo(48);
        assertObjects("blobs/", 8, "blobs");
        assertObjects("packs/", 1, "packs");
        assertObjects("groups/", 1, "one manifest");
        assertThat(r.stats().requests(Operation.PUT, Result.OK)).isEqualTo(10);
        assertThat(r.stats().putsPeak()).as("PUTs in flight at once").isBetween(2, concurrency);
        long bytes = r.stats().bytesUp();
        assertThat(bytes).isGreaterThan(11_500_000L);
        assertThat(bytes / s).as("bytes/s").isLessThan(1.6 * limit);
        NodeStore fresh = store("fresh");
        assertThat(new Filler(fresh)
                        .fill(remote(RemoteTesting.config(server, prefix)).source(), G, e -> true, FAR)
                        .committed())
                .isEqualTo(48);
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void aFailedPut_listsNoEntry_andEveryEntryStaysQueued() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "triton/L/", StoreFixture.bytes(1, 1_500_000));
        StoreFixture.commit(a, G, "inductor/s/", StoreFixture.bytes(2, 30_000));
        UploadQueue q = new UploadQueue(a.root());
        q.add(names(a.entries(G)).stream().map(n -> new EntryKey(G, n)).toList());
        // a file where the packs' folder would be: S3Proxy's filesystem backend cannot write any pack
        Path packs = server.objectFile(prefix + "packs");
        Files.createDirectories(packs.getParent());
        Files.write(packs, new byte[] {1});
        Remote r = remote(RemoteTesting.config(server, prefix).withLimits(Limits.DEFAULTS.withUpload(0, 4)));
        try {
            assertThatThrownBy(() -> r.uploader().drain(a, q, FAR)).isInstanceOf(IOException.class);
            assertThat(r.stats().requests(Operation.PUT, Result.ERROR)).isPositive();
            assertThat(objects("groups/")).as("no manifest").isEmpty();
            assertThat(q.snapshot()).hasSize(2);
        } finally {
            Files.delete(packs);
        }
        assertThat(r.uploader().drain(a, q, FAR)).isEqualTo(2);
        assertThat(q.snapshot()).isEmpty();
        assertObjects("groups/", 1, "one manifest");
        NodeStore fresh = store("fresh");
        assertThat(new Filler(fresh)
                        .fill(remote(RemoteTesting.config(server, prefix)).source(), G, e -> true, FAR)
                        .committed())
                .isEqualTo(2);
    }
}
