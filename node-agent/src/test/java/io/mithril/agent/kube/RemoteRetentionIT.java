package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.mithril.agent.index.Entry;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteGc;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.serve.AgentServer;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.api.v1alpha1.RemoteSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote retention on a cluster: the Lease that lets one agent at a time run it (against fabric8's
 * mock API server, which refuses an update carrying a stale resourceVersion as a real one does),
 * and a pass driven by the CompileCaches' {@code spec.remote.budget} against a real S3Proxy.
 */
@EnableKubernetesMockClient(crud = true)
class RemoteRetentionIT extends AgainstS3 {
    static final Duration LEASE = Duration.ofMinutes(1);
    static final long FAR = Long.MAX_VALUE;
    static KubernetesClient client;

    @TempDir
    Path tmp;

    static RetentionLease lease(String ns, String holder, Duration later) {
        return new RetentionLease(client, ns, holder, Clock.offset(Clock.systemUTC(), later));
    }

    void cache(String ns, Boolean enabled, String budget) {
        CompileCache cc = new CompileCache();
        cc.setMetadata(new ObjectMetaBuilder().withName("gpt").withNamespace(ns).build());
        CompileCacheSpec spec = new CompileCacheSpec();
        spec.setRemote(new RemoteSpec());
        spec.getRemote().setEnabled(enabled);
        spec.getRemote().setBudget(budget);
        cc.setSpec(spec);
        client.resource(cc).create();
    }

    @Test
    void oneHolderAtATime_renewable_takenOverOnlyWhenExpired_andReleasedOnlyByItsHolder() throws Exception {
        RetentionLease a = lease("lease-1", "node-a", Duration.ZERO);
        RetentionLease b = lease("lease-1", "node-b", Duration.ZERO);
        assertThat(a.tryAcquire(LEASE)).isTrue();
        assertThat(b.tryAcquire(LEASE)).as("held by node-a").isFalse();
        assertThat(a.tryAcquire(LEASE)).as("its holder renews it").isTrue();

        RetentionLease bLater = lease("lease-1", "node-b", LEASE.plusSeconds(5));
        assertThat(bLater.tryAcquire(LEASE)).as("node-a's time ran out").isTrue();
        a.release(); // no longer its holder: gives nothing back
        Lease now = client.leases()
                .inNamespace("lease-1")
                .withName(RetentionLease.NAME)
                .get();
        assertThat(now.getSpec().getHolderIdentity()).isEqualTo("node-b");
        assertThat(now.getSpec().getLeaseTransitions()).isEqualTo(1);

        bLater.release();
        assertThat(a.tryAcquire(LEASE)).as("released: free for anyone").isTrue();
    }

    @Test
    void agentsRacingForAnExpiredLease_exactlyOneWins() throws Exception {
        assertThat(lease("lease-2", "node-dead", Duration.ZERO).tryAcquire(Duration.ofSeconds(1)))
                .isTrue();
        for (int round = 0; round < 5; round++) {
            Duration later = Duration.ofMinutes(10L * (round + 1)); // every earlier holder has expired by then
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Callable<Boolean>> tries = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    RetentionLease l = lease("lease-2", "node-" + round + "-" + i, later);
                    tries.add(() -> l.tryAcquire(Duration.ofSeconds(30)));
                }
                int won = 0;
                for (Future<Boolean> f : pool.invokeAll(tries)) {
                    won += f.get() ? 1 : 0;
                }
                assertThat(won).as("round %d", round).isEqualTo(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void aPass_keepsEachCacheWithinItsRemoteBudget_leavesOthersAlone_andOnlyTheLeaseHolderRuns() throws Exception {
        cache("team-r", null, "60000");
        cache("team-s", false, "1");
        GroupId r = new GroupId("team-r", "gpt", StoreFixture.H100.device(), StoreFixture.H100.product());
        GroupId rA100 = new GroupId("team-r", "gpt", StoreFixture.A100.device(), StoreFixture.A100.product());
        GroupId s = new GroupId("team-s", "gpt", StoreFixture.H100.device(), StoreFixture.H100.product());
        GroupId u = new GroupId("team-u", "gpt", StoreFixture.H100.device(), StoreFixture.H100.product());
        try (NodeStore store = NodeStore.open(Files.createDirectories(tmp.resolve("a")), StoreConfig.defaults());
                Remote up = remote("retention")) {
            int seed = 0;
            for (GroupId g : List.of(r, rA100, s, u)) {
                String name = "inductor/" + g.namespace() + "-" + g.device().text() + "/";
                StoreFixture.commit(store, g, name, StoreFixture.bytes(++seed, 50_000));
                assertThat(up.uploader().upload(store, g, List.of(name), FAR).uploaded())
                        .isEqualTo(1);
                Thread.sleep(1_100); // listing times may have second resolution: the next upload is newer
            }
            AgentMetrics metrics = new AgentMetrics();
            metrics.remote(() -> 0, () -> 0, up.stats());
            RetentionLease held = lease("mithril-system", "node-other", Duration.ZERO);
            RemoteRetention mine = new RemoteRetention(
                    up.gc(),
                    lease("mithril-system", "node-a", Duration.ZERO),
                    () -> client.resources(CompileCache.class)
                            .inAnyNamespace()
                            .list()
                            .getItems(),
                    Duration.ZERO,
                    LEASE,
                    metrics);
            assertThat(mine.budgets()).containsOnlyKeys("team-r/gpt");

            assertThat(held.tryAcquire(LEASE)).isTrue();
            assertThat(mine.pass().ran()).as("another agent holds the Lease").isFalse();
            held.release();

            RemoteGc.Report rep = mine.pass();
            assertThat(rep.ran()).isTrue();
            assertThat(rep.groups()).as("team-r's two device classes").isEqualTo(2);
            assertThat(rep.groupsLeftAlone())
                    .as("team-s (remote off) and team-u (no CompileCache here)")
                    .isEqualTo(2);
            assertThat(rep.entriesEvicted())
                    .as("60 kB for both of team-r's 50 kB entries")
                    .isEqualTo(1);
            try (Remote reader = remote("retention")) {
                assertThat(names(reader, r))
                        .as("the older of team-r's two went")
                        .isEmpty();
                assertThat(names(reader, rA100)).hasSize(1);
                assertThat(names(reader, s)).hasSize(1);
                assertThat(names(reader, u)).hasSize(1);
            }
            assertThat(metrics.render(store.stats()))
                    .contains("mithril_remote_retention_passes_total{result=\"ran\"} 1")
                    .contains("mithril_remote_retention_passes_total{result=\"skipped\"} 1")
                    .contains("mithril_remote_retention_evicted_entries_total 1")
                    .contains("mithril_remote_upload_queue_dropped_total 0")
                    .contains("mithril_remote_rejected_frames_total 0");
            assertThat(AgentServer.statsJson(store.stats(), metrics))
                    .as("what the operator puts in status.remote.stored*")
                    .contains("\"remoteHeld\":{\"at\":\"")
                    .contains(
                            "\"caches\":[{\"namespace\":\"team-r\",\"cache\":\"gpt\",\"entries\":1,\"bytes\":50000}]");
        }
    }

    private static List<String> names(Remote r, GroupId g) throws Exception {
        List<String> out = new ArrayList<>();
        for (Entry e : r.source().entries(g)) {
            out.add(e.key().name());
        }
        return out;
    }
}
