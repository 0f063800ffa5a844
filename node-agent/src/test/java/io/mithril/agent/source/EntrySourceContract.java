package io.mithril.agent.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link EntrySource} must do, whatever it is backed by (the node store, a bucket, a
 * peer). An implementation's test extends this and says how to make a source holding given
 * entries; every test here then runs against it.
 */
public abstract class EntrySourceContract {

    /** One entry to seed: its group, name and files. */
    public record Seed(GroupId group, String name, List<SeedFile> files) {}

    /** One file of a seeded entry. */
    public record SeedFile(String path, byte[] bytes, boolean executable) {}

    protected static final GroupId TEAM_A = StoreFixture.H100;
    protected static final GroupId TEAM_B =
            new GroupId("team-b", "gpt", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
    protected static final GroupId OTHER_CLASS = StoreFixture.A100;

    @TempDir
    protected Path tmp;

    private final List<EntrySource> opened = new ArrayList<>();

    /** A source holding exactly {@code seeds} (and nothing else). Called once or more per test. */
    protected abstract EntrySource sourceHolding(List<Seed> seeds) throws Exception;

    /** Commits {@code seeds} into {@code store}, as an implementation's {@link #sourceHolding} may need. */
    protected static void commitSeeds(NodeStore store, List<Seed> seeds) throws IOException {
        for (Seed seed : seeds) {
            List<EntryFile> files = new ArrayList<>();
            for (SeedFile f : seed.files()) {
                NodeStore.Stored w = store.put(new ByteArrayInputStream(f.bytes()), f.bytes().length);
                files.add(new EntryFile(f.path(), w.address(), w.size(), f.executable()));
            }
            store.commit(new EntryKey(seed.group(), seed.name()), files, "seed");
        }
    }

    @AfterEach
    void closeSources() throws Exception {
        for (EntrySource s : opened) {
            s.close();
        }
    }

    private EntrySource source(Seed... seeds) throws Exception {
        EntrySource s = sourceHolding(List.of(seeds));
        opened.add(s);
        return s;
    }

    static SeedFile file(String path, String text) {
        return new SeedFile(path, text.getBytes(StandardCharsets.UTF_8), false);
    }

    static Seed seed(GroupId g, String name, SeedFile... files) {
        return new Seed(g, name, List.of(files));
    }

    private static final Seed INDUCTOR =
            seed(TEAM_A, "inductor/ab/cabc.py", file("cabc.py", "def kernel(): return 42\n"));
    private static final Seed TRITON = seed(
            TEAM_A,
            "triton/XYZ/",
            file("__grp__kernel.json", "{\"child_paths\": {}}"),
            new SeedFile("kernel.cubin", StoreFixture.bytes(7, 70_000), false),
            new SeedFile("launcher.so", StoreFixture.bytes(8, 3_000), true));

    @Test
    void unknownGroup_listsNothing() throws Exception {
        EntrySource s = source(INDUCTOR);
        assertThat(s.entries(TEAM_B)).isEmpty();
        assertThat(s.entries(OTHER_CLASS)).isEmpty();
    }

    @Test
    void listsWhatItHolds_withPathsAddressesSizesAndModes() throws Exception {
        EntrySource s = source(INDUCTOR, TRITON);
        Map<String, Entry> byName = byName(s.entries(TEAM_A));
        assertThat(byName.keySet()).containsExactlyInAnyOrder("inductor/ab/cabc.py", "triton/XYZ/");
        for (Seed seed : List.of(INDUCTOR, TRITON)) {
            Entry e = byName.get(seed.name());
            assertThat(e.key().group()).isEqualTo(TEAM_A);
            Map<String, EntryFile> files = new TreeMap<>();
            e.files().forEach(f -> files.put(f.path(), f));
            assertThat(files).hasSize(seed.files().size());
            for (SeedFile sf : seed.files()) {
                EntryFile f = files.get(sf.path());
                assertThat(f).as(sf.path()).isNotNull();
                assertThat(f.address()).isEqualTo(Blake3.hash(sf.bytes()));
                assertThat(f.size()).isEqualTo(sf.bytes().length);
                assertThat(f.executable()).isEqualTo(sf.executable());
            }
        }
    }

    @Test
    void everyListedBlobOpens_withItsBytes() throws Exception {
        EntrySource s = source(INDUCTOR, TRITON);
        for (Entry e : s.entries(TEAM_A)) {
            for (EntryFile f : e.files()) {
                try (InputStream in = s.open(f.address())) {
                    assertThat(Blake3.hash(in.readAllBytes())).isEqualTo(f.address());
                }
            }
        }
    }

    @Test
    void absentBlob_isNotFound() throws Exception {
        EntrySource s = source(INDUCTOR);
        Address absent = Blake3.hash("never stored".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> s.open(absent)).isInstanceOf(BlobNotFoundException.class);
    }

    @Test
    void fetch_handsEachWantedBlobOnce_andNamesTheMissing() throws Exception {
        EntrySource s = source(INDUCTOR, TRITON);
        List<Address> wanted = new ArrayList<>();
        s.entries(TEAM_A).forEach(e -> e.files().forEach(f -> wanted.add(f.address())));
        Address absent = Blake3.hash("never stored".getBytes(StandardCharsets.UTF_8));
        wanted.add(absent);
        wanted.add(wanted.get(0)); // asked twice, handed once
        Map<Address, Integer> handed = new HashMap<>();
        Set<Address> missing = s.fetch(wanted, (a, in) -> {
            handed.merge(a, 1, Integer::sum);
            assertThat(Blake3.hash(readAll(in))).isEqualTo(a);
        });
        assertThat(missing).containsExactly(absent);
        assertThat(handed.keySet())
                .containsExactlyInAnyOrderElementsOf(Set.copyOf(wanted.subList(0, wanted.size() - 2)));
        assertThat(handed.values()).containsOnly(1);
    }

    @Test
    void groupsStayApart_whateverTheNames() throws Exception {
        Seed theirs = seed(TEAM_B, "inductor/ab/cabc.py", file("cabc.py", "import os; os.system('evil')\n"));
        EntrySource s = source(INDUCTOR, theirs);
        List<Entry> ours = s.entries(TEAM_A);
        assertThat(ours).hasSize(1);
        assertThat(ours.get(0).files().get(0).address())
                .isEqualTo(Blake3.hash(INDUCTOR.files().get(0).bytes()));
        assertThat(s.entries(TEAM_B))
                .singleElement()
                .satisfies(e -> assertThat(e.files().get(0).address())
                        .isEqualTo(Blake3.hash(theirs.files().get(0).bytes())));
    }

    @Test
    void sharedAndEmptyBlobs() throws Exception {
        byte[] same = StoreFixture.bytes(3, 5_000);
        Seed one = seed(
                TEAM_A,
                "triton/A/",
                new SeedFile("k.cubin", same, false),
                new SeedFile("empty.json", new byte[0], false));
        Seed two = seed(TEAM_A, "triton/B/", new SeedFile("k.cubin", same, false));
        EntrySource s = source(one, two);
        assertThat(s.entries(TEAM_A)).hasSize(2);
        try (InputStream in = s.open(Blake3.hash(new byte[0]))) {
            assertThat(in.readAllBytes()).isEmpty();
        }
    }

    @Test
    void fillsAFreshStore_everyByteRight() throws Exception {
        EntrySource s = source(INDUCTOR, TRITON, seed(TEAM_B, "inductor/zz/czz.py", file("czz.py", "theirs\n")));
        try (NodeStore fresh = NodeStore.open(Files.createDirectories(tmp.resolve("fresh")), StoreConfig.defaults())) {
            Filler.Report r = new Filler(fresh).fill(s, TEAM_A, e -> true, System.nanoTime() + 60_000_000_000L);
            assertThat(r.committed()).isEqualTo(2);
            assertThat(r.rejected()).isZero();
            assertThat(fresh.entries(TEAM_B)).isEmpty();
            for (Seed seed : List.of(INDUCTOR, TRITON)) {
                Entry e = byName(fresh.entries(TEAM_A)).get(seed.name());
                for (SeedFile sf : seed.files()) {
                    EntryFile f = e.files().stream()
                            .filter(x -> x.path().equals(sf.path()))
                            .findFirst()
                            .orElseThrow();
                    assertThat(fresh.get(f.address())).isEqualTo(sf.bytes());
                    assertThat(f.executable()).isEqualTo(sf.executable());
                }
            }
            assertThat(fresh.verify().corrupt()).isEmpty();
            Filler.Report again = new Filler(fresh).fill(s, TEAM_A, e -> true, System.nanoTime() + 60_000_000_000L);
            assertThat(again.present()).isEqualTo(2);
            assertThat(again.blobsFetched()).isZero();
        }
    }

    static Map<String, Entry> byName(List<Entry> entries) {
        Map<String, Entry> m = new TreeMap<>();
        entries.forEach(e -> m.put(e.key().name(), e));
        return m;
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }
}
