package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.Fixture;
import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.Manifest.Location;
import io.mithril.agent.remote.Manifest.RemoteEntry;
import io.mithril.agent.remote.RemoteStats.Operation;
import io.mithril.agent.remote.RemoteStats.Result;
import io.mithril.agent.source.Filler;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreFixture;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.Views;
import java.io.ByteArrayOutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * zstd in the remote tier against S3Proxy: the real fixture's group is stored much smaller and
 * restored byte for byte; a cut, a corrupted and a zip-bomb frame are never served and are counted;
 * a blob over the inflate limit is not inflated; incompressible blobs are stored raw; a manifest of
 * the format before compression (no flag) is still read.
 */
class RemoteCompressionIT extends AgainstBucket {
    private static final GroupId G = StoreFixture.H100;
    private static final String[] WORDS = {"triton", "kernel", "cubin", "ptx", "load", "store", "mask", "block", "0x1f"
    };

    private Remote remote() {
        return remote(RemoteTesting.config(server, prefix));
    }

    /** Text-like bytes (zstd takes them to a fraction), different for each seed. */
    private static byte[] compressible(long seed, int len) {
        Random r = new Random(seed);
        ByteArrayOutputStream b = new ByteArrayOutputStream(len + 16);
        while (b.size() < len) {
            b.writeBytes((WORDS[r.nextInt(WORDS.length)] + (r.nextInt(8) == 0 ? "\n" : " "))
                    .getBytes(StandardCharsets.US_ASCII));
        }
        byte[] out = new byte[len];
        System.arraycopy(b.toByteArray(), 0, out, 0, len);
        return out;
    }

    private static long sum(Map<String, Long> sizes) {
        return sizes.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The group's distinct blobs' bytes. */
    private static long groupBytes(NodeStore s, GroupId g) throws Exception {
        Map<Address, Long> distinct = new HashMap<>();
        for (Entry e : s.entries(g)) {
            for (EntryFile f : e.files()) {
                distinct.put(f.address(), f.size());
            }
        }
        return distinct.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The real fixture, ingested as a cold workload leaves it: an empty view, the cache written into it, a final ingest. */
    private NodeStore fixtureStore() throws Exception {
        NodeStore s = store("writer");
        Path fixture = Fixture.extract(tmp.resolve("fx"));
        Views views = new Views(s);
        View v = views.publish(
                G,
                tmp.resolve("seed"),
                Set.of(Framework.INDUCTOR, Framework.TRITON),
                Views.Owner.CURRENT,
                PublishMode.LINK);
        try (Stream<Path> walk = Files.walk(fixture)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path d = v.dir().resolve(fixture.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(d);
                } else {
                    Files.copy(p, d);
                }
            }
        }
        try (Ingester ingester = new Ingester(s, IngestLimits.defaults())) {
            ingester.ingest(v, "test", true);
        }
        views.unpublish(v);
        return s;
    }

    @Test
    void theFixturesGroup_isStoredMuchSmaller_andRestoredByteForByte() throws Exception {
        NodeStore a = fixtureStore();
        long raw = groupBytes(a, G);
        assertThat(raw).as("the fixture's bytes").isGreaterThan(14_000_000);
        Remote w = remote();
        Uploader.Report up = w.uploader().upload(a, G, names(a.entries(G)), FAR);
        assertThat(up.uploaded()).isEqualTo(a.entries(G).size());
        long stored = sum(objects("blobs/")) + sum(objects("packs/"));
        System.out.printf(
                "fixture: %d B of blobs stored in %d B (%.1fx; %d loose, %d packs), manifest %d B; upload %d requests%n",
                raw,
                stored,
                raw / (double) stored,
                objects("blobs/").size(),
                objects("packs/").size(),
                sum(objects("groups/")),
                w.stats().requests());
        assertThat(stored).as("bytes at the server for %d B of blobs", raw).isLessThan(raw / 4);
        assertThat(up.bytes()).isEqualTo(stored);

        Remote r = remote();
        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        System.out.printf(
                "fixture restore: %d entries, %d requests (%d GET, %d LIST), %d B down for %d B%n",
                f.committed(),
                r.stats().requests(),
                r.stats().requests(Operation.GET, Result.OK),
                r.stats().requests(Operation.LIST, Result.OK),
                r.stats().bytesDown(),
                f.bytesFetched());
        assertThat(f.committed()).isEqualTo(a.entries(G).size());
        assertThat(f.rejected()).isZero();
        assertThat(r.stats().rejectedFrames()).isZero();
        assertThat(r.stats().bytesDown()).isLessThan(raw / 4);
        for (Entry e : a.entries(G)) {
            for (EntryFile file : e.files()) {
                assertThat(fresh.get(file.address())).isEqualTo(a.get(file.address()));
            }
        }
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void incompressibleBlobs_areStoredRaw() throws Exception {
        NodeStore a = store("a");
        Entry e =
                StoreFixture.commit(a, G, "triton/R/", StoreFixture.bytes(1, 2_000_000), StoreFixture.bytes(2, 30_000));
        remote().uploader().upload(a, G, names(a.entries(G)), FAR);
        assertObjects("blobs/", 1, "the big blob, alone");
        assertObjects("packs/", 1, "the small one, packed");
        assertThat(objects("blobs/").values()).containsExactly(2_000_000L);
        assertThat(objects("packs/").values()).containsExactly(30_000L);
        String manifest = manifestText();
        assertThat(manifest).doesNotContain("zstd");
        NodeStore fresh = store("fresh");
        assertThat(new Filler(fresh).fill(remote().source(), G, x -> true, FAR).committed())
                .isEqualTo(1);
        assertThat(fresh.get(e.files().get(0).address()))
                .isEqualTo(a.get(e.files().get(0).address()));
    }

    @Test
    void aCutFrame_andACorruptedOne_areNeverServed_andCounted() throws Exception {
        NodeStore a = store("a");
        Entry big = StoreFixture.commit(a, G, "triton/BIG/", compressible(1, 2_000_000));
        Entry small = StoreFixture.commit(a, G, "inductor/small/", compressible(2, 200_000));
        StoreFixture.commit(a, G, "inductor/good/", compressible(3, 1_000));
        remote().uploader().upload(a, G, names(a.entries(G)), FAR);
        assertThat(manifestText()).contains("\"zstd\":true");
        Path loose = onlyObject("blobs/");
        try (RandomAccessFile f = new RandomAccessFile(loose.toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        Path pack = onlyObject("packs/");
        try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
            long at = f.length() / 3; // inside small's frame: good's, before it, is a few hundred bytes
            for (int i = 0; i < 64; i++) {
                f.seek(at + i);
                int c = f.read();
                f.seek(at + i);
                f.write(c ^ 0x5a);
            }
        }
        Remote r = remote();
        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(f.rejected())
                .as("the cut loose blob and the corrupted packed one")
                .isEqualTo(2);
        assertThat(r.stats().rejectedFrames()).as("at least the cut frame").isPositive();
        assertThat(names(fresh.entries(G))).containsExactly("inductor/good/");
        assertThat(fresh.exists(big.files().get(0).address())).isFalse();
        assertThat(fresh.exists(small.files().get(0).address())).isFalse();
        assertThat(fresh.verify().corrupt()).isEmpty();
    }

    @Test
    void aZipBomb_isCutAtTheDeclaredSize_neverServed_andCounted() throws Exception {
        NodeStore a = store("a");
        Entry big = StoreFixture.commit(a, G, "triton/BIG/", compressible(4, 2_000_000));
        remote().uploader().upload(a, G, names(a.entries(G)), FAR);
        Path loose = onlyObject("blobs/");
        int stored = (int) Files.size(loose);
        assertThat(stored).as("compressed").isLessThan(1_000_000);
        byte[] bomb = bomb(stored, 2_000_000);
        assertThat(bomb).hasSize(stored);
        assertThat((bomb.length - 16L) / 4 * 131_072)
                .as("what the bomb inflates to")
                .isGreaterThan(100_000_000L);
        Files.write(loose, bomb);

        Remote r = remote();
        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(f.rejected()).isEqualTo(1);
        assertThat(f.committed()).isZero();
        assertThat(r.stats().rejectedFrames()).isEqualTo(1);
        assertThat(fresh.exists(big.files().get(0).address())).isFalse();
        assertThat(fresh.stats().blobs()).isZero();
    }

    @Test
    void aBlobOverTheInflateLimit_isNotInflated() throws Exception {
        NodeStore a = store("a");
        StoreFixture.commit(a, G, "triton/BIG/", compressible(5, 2_000_000));
        StoreFixture.commit(a, G, "inductor/small/", compressible(6, 20_000));
        remote().uploader().upload(a, G, names(a.entries(G)), FAR);
        Remote r = remote(RemoteTesting.config(server, prefix)
                .withLimits(RemoteConfig.Limits.DEFAULTS.withInflateLimit(1 << 20)));
        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(f.rejected()).isEqualTo(1);
        assertThat(r.stats().rejectedFrames()).isEqualTo(1);
        assertThat(names(fresh.entries(G))).containsExactly("inductor/small/");
    }

    @Test
    void aManifestOfTheFormatBeforeCompression_isReadAsRaw() throws Exception {
        byte[] big = compressible(7, 1_500_000);
        byte[] small = compressible(8, 5_000);
        Address bigA = Blake3.hash(big);
        Address smallA = Blake3.hash(small);
        Address packA = Blake3.hash(small); // a pack of one blob is that blob's bytes
        Layout layout = new Layout(prefix);
        List<RemoteEntry> entries = List.of(
                new RemoteEntry("triton/OLD/", List.of(new EntryFile("k.cubin", bigA, big.length, false))),
                new RemoteEntry("inductor/old/", List.of(new EntryFile("x.py", smallA, small.length, false))));
        Map<Address, Location> where = new HashMap<>();
        where.put(bigA, new Location(null, 0, big.length));
        where.put(smallA, new Location(packA, 0, small.length));
        byte[] sealed = new Manifest(G, entries, where).seal(RemoteTesting.KEY, "1234@an-older-agent");
        String text = new String(sealed, StandardCharsets.UTF_8);
        assertThat(text)
                .as("the older format: no flag, no stored length")
                .doesNotContain("zstd")
                .doesNotContain("stored");
        try (S3Client c = server.client()) {
            put(c, layout.blob(bigA), big);
            put(c, layout.pack(packA), small);
            put(c, layout.manifest(G, Blake3.hash(sealed)), sealed);
        }
        Remote r = remote();
        NodeStore fresh = store("fresh");
        Filler.Report f = new Filler(fresh).fill(r.source(), G, e -> true, FAR);
        assertThat(f.committed()).isEqualTo(2);
        assertThat(f.rejected()).isZero();
        assertThat(fresh.get(bigA)).isEqualTo(big);
        assertThat(fresh.get(smallA)).isEqualTo(small);
    }

    /**
     * A zstd frame of exactly {@code size} bytes that declares {@code declared} bytes of content and
     * inflates to far more: 128 KiB RLE blocks (4 bytes each), then a raw block padding it to size.
     */
    private static byte[] bomb(int size, int declared) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(size);
        b.writeBytes(new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}); // magic
        b.write(0x80); // frame header: 4-byte content size, not single-segment, no checksum, no dictionary
        b.write(0x38); // window: 128 KiB
        for (int i = 0; i < 4; i++) {
            b.write(declared >>> (8 * i));
        }
        int rle = (131_072 << 3) | (1 << 1); // not last, RLE, 128 KiB
        int blocks = (size - b.size() - 3) / 4;
        for (int i = 0; i < blocks; i++) {
            b.write(rle);
            b.write(rle >>> 8);
            b.write(rle >>> 16);
            b.write('A');
        }
        int pad = size - b.size() - 3;
        int last = (pad << 3) | 1; // last, raw
        b.write(last);
        b.write(last >>> 8);
        b.write(last >>> 16);
        b.writeBytes(new byte[pad]);
        return b.toByteArray();
    }

    private void put(S3Client c, String key, byte[] bytes) {
        c.putObject(x -> x.bucket(server.bucket()).key(key), RequestBody.fromBytes(bytes));
    }

    private String manifestText() throws Exception {
        Map<String, Long> m = objects("groups/");
        assertThat(m).hasSize(1);
        return Files.readString(server.objectFile(m.keySet().iterator().next()));
    }

    private Path onlyObject(String folder) {
        Map<String, Long> m = objects(folder);
        assertThat(m).hasSize(1);
        return server.objectFile(m.keySet().iterator().next());
    }
}
