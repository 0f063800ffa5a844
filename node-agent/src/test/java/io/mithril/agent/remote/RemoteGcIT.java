package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFixture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/** Remote retention against S3Proxy: LRU under a budget, compaction, blobs a live manifest names, the grace, the lock. */
class RemoteGcIT extends AgainstBucket {
    private static final GroupId G = StoreFixture.H100;
    private static final GroupId THEIRS = new GroupId("team-b", G.cache(), G.device(), G.product());
    private static final Duration NO_GRACE = Duration.ZERO;
    private static final Duration LEASE = Duration.ofMinutes(1);

    /** A pass; where no other actor holds the lock, retried until it ran (see {@link #acquireWithin10s}). */
    private RemoteGc.Report gc(Remote r, long budget, Duration grace) throws Exception {
        RemoteGc.Report rep = once(r, budget, grace);
        for (int i = 0; i < 200 && !rep.ran(); i++) {
            Thread.sleep(50);
            rep = once(r, budget, grace);
        }
        return rep;
    }

    private RemoteGc.Report once(Remote r, long budget, Duration grace) throws Exception {
        return r.gc().collect(budget, grace, r.gc().bucketLock("test"), LEASE);
    }

    private void upload(Remote r, NodeStore s, GroupId g, String name) throws Exception {
        r.uploader().upload(s, g, List.of(name), FAR);
        Thread.sleep(1_100); // the next object is a second newer (a listing's times may have second resolution)
    }

    /** Commits and uploads, one after another, an entry {@code inductor/NAME/} of 50,000 bytes for each name. */
    private void uploadEach(Remote r, NodeStore a, String... names) throws Exception {
        for (String n : names) {
            StoreFixture.commit(a, G, "inductor/" + n + "/", StoreFixture.bytes(n.hashCode(), 50_000));
            upload(r, a, G, "inductor/" + n + "/");
        }
    }

    private List<String> remoteNames(GroupId g) throws Exception {
        return names(remote(RemoteTesting.config(server, prefix)).source().entries(g));
    }

    /** The group's names in the order the source lists them. */
    private List<String> listed(GroupId g) throws Exception {
        return remote(RemoteTesting.config(server, prefix)).source().entries(g).stream()
                .map(e -> e.key().name())
                .toList();
    }

    @Test
    void overBudget_theLeastRecentlyListedGoFirst_alsoAfterACompaction() throws Exception {
        NodeStore a = store("a");
        Remote r = remote(RemoteTesting.config(server, prefix));
        uploadEach(r, a, "old", "mid", "new");
        RemoteGc.Report all = gc(r, 1 << 30, NO_GRACE);
        assertThat(all.entriesEvicted()).isZero();
        assertThat(all.manifestsDeleted()).as("three compacted into one").isEqualTo(3);
        assertObjects("groups/", 1, "one compacted manifest");
        assertThat(all.objectsDeleted()).as("every pack is still named").isZero();

        RemoteGc.Report two = gc(r, 110_000, NO_GRACE); // one compacted manifest: the order comes from its "used" times
        assertThat(two.entriesEvicted()).isEqualTo(1);
        assertThat(remoteNames(G)).containsExactly("inductor/mid/", "inductor/new/");
        assertThat(two.objectsDeleted()).as("old's pack, no longer named").isEqualTo(1);

        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh)
                .fill(remote(RemoteTesting.config(server, prefix)).source(), G, e -> true, FAR);
        assertThat(f.committed()).isEqualTo(2);
        assertThat(f.incomplete()).isZero();
    }

    /**
     * The sweep after a compaction must not take the compacted manifest's blobs for unnamed when its
     * own listing does not show that manifest yet: they are old, so no grace period covers them.
     */
    @Test
    void aCompactedManifestTheSweepsListingMisses_stillKeepsItsBlobs() throws Exception {
        NodeStore a = store("a");
        Remote r = remote(RemoteTesting.config(server, prefix));
        uploadEach(r, a, "old", "new");
        LaggingBucket lagging = new LaggingBucket(RemoteTesting.config(server, prefix));
        open.add(lagging);
        RemoteGc gc = new RemoteGc(lagging, RemoteTesting.config(server, prefix), System::currentTimeMillis);
        RemoteGc.Report rep = gc.collect(60_000, NO_GRACE, gc.bucketLock("test"), LEASE); // room for one
        for (int i = 0; i < 200 && !rep.ran(); i++) {
            Thread.sleep(50);
            rep = gc.collect(60_000, NO_GRACE, gc.bucketLock("test"), LEASE);
        }
        assertThat(rep.entriesEvicted()).isEqualTo(1);
        assertThat(lagging.unlisted())
                .as("the pass compacted into a manifest its listings miss")
                .hasSize(1);
        assertThat(rep.objectsDeleted()).as("the evicted entry's pack only").isEqualTo(1);

        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh)
                .fill(remote(RemoteTesting.config(server, prefix)).source(), G, e -> true, FAR);
        assertThat(f.committed()).isEqualTo(1);
        assertThat(f.incomplete()).as("the kept entry's blobs are all there").isZero();
    }

    @Test
    void groupsOfOneBudget_shareIt_oldestFirstAcrossThem_andGroupsWithoutABudgetAreLeftAlone() throws Exception {
        GroupId a100 = StoreFixture.A100;
        NodeStore a = store("a");
        Remote r = remote(RemoteTesting.config(server, prefix));
        StoreFixture.commit(a, G, "inductor/h-old/", StoreFixture.bytes(1, 50_000));
        upload(r, a, G, "inductor/h-old/");
        StoreFixture.commit(a, a100, "inductor/a-mid/", StoreFixture.bytes(2, 50_000));
        upload(r, a, a100, "inductor/a-mid/");
        StoreFixture.commit(a, G, "inductor/h-new/", StoreFixture.bytes(3, 50_000));
        upload(r, a, G, "inductor/h-new/");
        StoreFixture.commit(a, THEIRS, "inductor/t/", StoreFixture.bytes(4, 50_000));
        upload(r, a, THEIRS, "inductor/t/");

        RemoteGc.Budgets ours = g -> g.namespace().equals(G.namespace()) ? new RemoteGc.Budget("cache", 110_000) : null;
        RemoteGc.Report rep = r.gc().collect(ours, NO_GRACE, r.gc().bucketLock("test"), LEASE);

        assertThat(rep.groups()).isEqualTo(2);
        assertThat(rep.groupsLeftAlone()).isEqualTo(1);
        assertThat(rep.entriesEvicted())
                .as("one budget for both device classes: the oldest of the three goes")
                .isEqualTo(1);
        assertThat(remoteNames(G)).containsExactly("inductor/h-new/");
        assertThat(remoteNames(a100)).containsExactly("inductor/a-mid/");
        assertThat(remoteNames(THEIRS))
                .as("no budget given: not compacted, not evicted")
                .containsExactly("inductor/t/");
    }

    /** Pre-warm takes a group's entries while they fit its byte budget: the source lists the hottest first. */
    @Test
    void entries_areListedMostRecentlyUsedFirst_soABudgetedFillTakesTheHottest() throws Exception {
        NodeStore a = store("a");
        Remote w = remote(RemoteTesting.config(server, prefix));
        uploadEach(w, a, "a", "b", "c");
        assertThat(listed(G)).as("by upload").containsExactly("inductor/c/", "inductor/b/", "inductor/a/");

        Remote reader = remote(RemoteTesting.config(server, prefix));
        NodeStore used = store("used");
        new Filler(used).fill(reader.source(), G, e -> e.key().name().equals("inductor/a/"), FAR);
        reader.uploader().drain(used, new UploadQueue(used.root()), FAR); // its use record goes up
        gc(w, 1 << 30, NO_GRACE); // folds the use into the compacted manifest's "used" times
        assertThat(listed(G)).as("a fetched since").containsExactly("inductor/a/", "inductor/c/", "inductor/b/");

        long[] budget = {60_000}; // room for one entry, as pre-warm's byte budget
        NodeStore joining = store("joining");
        Filler.Report f = new Filler(joining)
                .fill(
                        remote(RemoteTesting.config(server, prefix)).source(),
                        G,
                        e -> {
                            long size =
                                    e.files().stream().mapToLong(x -> x.size()).sum();
                            if (size > budget[0]) {
                                return false;
                            }
                            budget[0] -= size;
                            return true;
                        },
                        FAR);
        assertThat(f.committed()).isEqualTo(1);
        assertThat(joining.entries(G))
                .singleElement()
                .satisfies(e -> assertThat(e.key().name()).isEqualTo("inductor/a/"));
    }

    @Test
    void anEntryFetchedRecently_outlivesOneUploadedLaterButNeverUsed() throws Exception {
        NodeStore a = store("a");
        Remote w = remote(RemoteTesting.config(server, prefix));
        uploadEach(w, a, "old", "new");
        Remote reader = remote(RemoteTesting.config(server, prefix)); // another node's agent
        for (int i = 0; i < 2; i++) { // two fills of old within the interval: one use record
            NodeStore fresh = store("fresh" + i);
            Filler.Report f = new Filler(fresh)
                    .fill(reader.source(), G, e -> e.key().name().equals("inductor/old/"), FAR);
            assertThat(f.committed()).isEqualTo(1);
            // written in the background after the fill; the agent's upload pass waits for that write
            reader.uploader().drain(fresh, new UploadQueue(fresh.root()), FAR);
            assertObjects("uses/", 1, "use records after fill " + (i + 1));
        }
        assertObjects("groups/", 2, "fills write no manifest");

        RemoteGc.Report rep = gc(w, 60_000, NO_GRACE); // room for one of the two
        assertThat(rep.entriesEvicted()).isEqualTo(1);
        assertThat(remoteNames(G)).as("uploaded first, but fetched since").containsExactly("inductor/old/");
        assertObjects("uses/", 0, "folded into the compacted manifest");
        assertThat(gc(w, 60_000, NO_GRACE).entriesEvicted()).isZero();
        assertThat(remoteNames(G)).containsExactly("inductor/old/");
    }

    @Test
    void aBlobALiveManifestNames_isNeverDeleted_andYoungUnreferencedOnesStay() throws Exception {
        NodeStore a = store("a");
        byte[] shared = StoreFixture.bytes(8, 2_000_000); // loose, in both groups
        StoreFixture.commit(a, G, "triton/K/", shared);
        StoreFixture.commit(a, THEIRS, "triton/K/", shared);
        Remote r = remote(RemoteTesting.config(server, prefix));
        upload(r, a, G, "triton/K/");
        upload(r, a, THEIRS, "triton/K/");
        String stray = prefix + "blobs/" + "ab".repeat(32);
        try (S3Client c = server.client()) {
            c.putObject(x -> x.bucket(server.bucket()).key(stray), RequestBody.fromBytes(new byte[100]));
        }
        RemoteGc.Report rep = gc(r, 1_000_000, Duration.ofHours(1)); // each group's 2 MB entry is over the budget
        assertThat(rep.entriesEvicted()).isEqualTo(2);
        assertThat(rep.objectsDeleted()).isZero();
        assertThat(rep.objectsInGrace())
                .as("the loose blob and the stray one, unnamed now but young")
                .isEqualTo(2);
        assertObjects("blobs/", 2, "the shared blob and the stray one");

        StoreFixture.commit(a, THEIRS, "triton/K2/", shared, "x".getBytes());
        upload(r, a, THEIRS, "triton/K2/");
        RemoteGc.Report now = gc(r, 1 << 30, NO_GRACE);
        assertThat(now.objectsDeleted())
                .as("only the stray blob: the shared one is named again")
                .isEqualTo(1);
        assertObjects("blobs/", 1, "the shared blob");
        NodeStore fresh = store("fresh");
        assertThat(new Filler(fresh)
                        .fill(remote(RemoteTesting.config(server, prefix)).source(), THEIRS, e -> true, FAR)
                        .committed())
                .isEqualTo(1);
        assertThat(fresh.get(a.entries(THEIRS).get(0).files().get(0).address())).isNotNull();
    }

    @Test
    void aReaderConcurrentWithGc_neverCommitsAnEntryWithMissingBlobs() throws Exception {
        NodeStore a = store("a");
        Remote w = remote(RemoteTesting.config(server, prefix));
        for (int i = 0; i < 6; i++) {
            StoreFixture.commit(
                    a,
                    G,
                    "inductor/e" + i + "/",
                    StoreFixture.bytes(30 + i, 40_000),
                    StoreFixture.bytes(60 + i, 1_200_000));
            w.uploader().upload(a, G, List.of("inductor/e" + i + "/"), FAR);
        }
        AtomicBoolean stop = new AtomicBoolean();
        CompletableFuture<Integer> reader = CompletableFuture.supplyAsync(() -> {
            int fills = 0;
            try {
                while (!stop.get()) {
                    NodeStore fresh = store("fresh" + fills++);
                    new Filler(fresh)
                            .fill(remote(RemoteTesting.config(server, prefix)).source(), G, e -> true, FAR);
                    for (Entry e : fresh.entries(G)) {
                        for (EntryFile f : e.files()) {
                            assertThat(fresh.exists(f.address()))
                                    .as("%s of %s", f.path(), e.key())
                                    .isTrue();
                        }
                    }
                    assertThat(fresh.verify().corrupt()).isEmpty();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return fills;
        });
        for (long budget = 6_000_000; budget >= 0; budget -= 1_300_000) {
            gc(w, Math.max(0, budget), NO_GRACE);
        }
        stop.set(true);
        assertThat(reader.get()).isPositive();
        assertThat(remoteNames(G)).isEmpty();
    }

    @Test
    void oneActorAtATime() throws Exception {
        Remote r = remote(RemoteTesting.config(server, prefix));
        RemoteGc.Lock held = r.gc().bucketLock("other");
        assertThat(held.tryAcquire(LEASE)).isTrue();
        assertThat(once(r, 0, NO_GRACE).ran()).isFalse();
        held.release();
        assertThat(gc(r, 0, NO_GRACE).ran()).isTrue();
        RemoteGc.Lock dead = r.gc().bucketLock("dead");
        assertThat(acquireWithin10s(dead, Duration.ZERO)).isTrue(); // its holder died: the lease runs out
        Thread.sleep(5);
        assertThat(gc(r, 0, NO_GRACE).ran()).isTrue();
    }

    /**
     * Takes the lock, trying for up to 10 s: S3Proxy's filesystem backend can show a generation just
     * written as absent for a moment, and an actor that misses one only skips a pass (safety, one
     * holder at a time, rests on If-None-Match alone, so a late sight never makes two holders).
     */
    static boolean acquireWithin10s(RemoteGc.Lock lock, Duration lease) throws Exception {
        for (int i = 0; i < 200; i++) {
            if (lock.tryAcquire(lease)) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    @Test
    void actorsRacingForAnExpiredLock_atMostOneWinsEachRound_andReleasingHandsItOn() throws Exception {
        Remote r = remote(RemoteTesting.config(server, prefix));
        int actors = 6;
        ExecutorService pool = Executors.newFixedThreadPool(actors);
        try {
            for (int round = 0; round < 10; round++) {
                RemoteGc.Lock dead = r.gc().bucketLock("dead-" + round);
                assertThat(acquireWithin10s(dead, Duration.ZERO))
                        .as("round %d: the last holder released", round)
                        .isTrue();
                Thread.sleep(5); // its lease runs out without a release: it died
                CyclicBarrier start = new CyclicBarrier(actors);
                List<RemoteGc.Lock> locks = new ArrayList<>();
                List<Future<Boolean>> tries = new ArrayList<>();
                for (int a = 0; a < actors; a++) {
                    RemoteGc.Lock l = r.gc().bucketLock("actor-" + a);
                    locks.add(l);
                    tries.add(pool.submit(() -> {
                        start.await();
                        return l.tryAcquire(LEASE);
                    }));
                }
                List<RemoteGc.Lock> won = new ArrayList<>();
                for (int a = 0; a < actors; a++) {
                    if (tries.get(a).get()) {
                        won.add(locks.get(a));
                    }
                }
                assertThat(won)
                        .as("round %d: holders of the lock at once", round)
                        .hasSizeLessThanOrEqualTo(1);
                if (won.isEmpty()) { // every racer saw a stale newest generation: not stuck, only late
                    RemoteGc.Lock late = r.gc().bucketLock("late-" + round);
                    assertThat(acquireWithin10s(late, LEASE))
                            .as("round %d: taken after all", round)
                            .isTrue();
                    won.add(late);
                }
                assertThat(r.gc().bucketLock("other").tryAcquire(LEASE))
                        .as("round %d: held, so nobody else takes it", round)
                        .isFalse();
                won.get(0).release();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
