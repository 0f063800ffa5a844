package io.mithril.agent.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A source that lies or is slow: nothing it gets wrong reaches the local store. */
class FillerTest {
    private static final GroupId G = StoreFixture.H100;
    private static final long FAR = Long.MAX_VALUE / 2;

    @TempDir
    Path tmp;

    private NodeStore origin;
    private NodeStore local;
    private Entry good;
    private Entry victim;

    @BeforeEach
    void setUp() throws IOException {
        origin = NodeStore.open(Files.createDirectories(tmp.resolve("origin")), StoreConfig.defaults());
        local = NodeStore.open(Files.createDirectories(tmp.resolve("local")), StoreConfig.defaults());
        good = StoreFixture.commit(origin, G, "inductor/aa/caa.py", "print('good')\n".getBytes());
        victim = StoreFixture.commit(origin, G, "triton/V/", StoreFixture.bytes(1, 40_000), StoreFixture.bytes(2, 100));
    }

    @AfterEach
    void tearDown() throws IOException {
        origin.close();
        local.close();
    }

    /** An opening hook: what a wrapped source hands out for a blob. */
    interface Opening {
        InputStream open(Address address, InputStream honest) throws IOException;
    }

    /** The origin's source with its listing and its blobs passed through {@code listing} and {@code opening}. */
    private EntrySource wrapped(UnaryOperator<List<Entry>> listing, Opening opening) {
        StoreSource honest = new StoreSource(origin);
        return new EntrySource() {
            @Override
            public String describe() {
                return "wrapped";
            }

            @Override
            public List<Entry> entries(GroupId group) throws IOException {
                return listing.apply(honest.entries(group));
            }

            @Override
            public InputStream open(Address address) throws IOException {
                return opening.open(address, honest.open(address));
            }
        };
    }

    /** The origin's source, with the bytes of the victim's first blob replaced by {@code lie}. */
    private EntrySource lying(UnaryOperator<InputStream> lie) {
        Address target = victim.files().get(0).address();
        return wrapped(l -> l, (a, in) -> a.equals(target) ? lie.apply(in) : in);
    }

    private void assertOnlyTheGoodEntry(Filler.Report r) throws IOException {
        assertThat(r.rejected()).isEqualTo(1);
        assertThat(r.committed()).isEqualTo(1);
        assertThat(r.incomplete()).isEqualTo(1);
        assertThat(local.entries(G)).extracting(e -> e.key().name()).containsExactly("inductor/aa/caa.py");
        assertThat(local.exists(victim.files().get(0).address())).isFalse();
        assertThat(local.verify().corrupt()).isEmpty();
        assertThat(local.stats().blobs())
                .as("the victim's other blob was given back")
                .isEqualTo(1);
    }

    @Test
    void flippedByte_isDropped() throws IOException {
        Filler.Report r = new Filler(local)
                .fill(
                        lying(in -> {
                            try {
                                byte[] b = in.readAllBytes();
                                b[100] ^= 1;
                                return new ByteArrayInputStream(b);
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }),
                        G,
                        e -> true,
                        FAR);
        assertOnlyTheGoodEntry(r);
    }

    @Test
    void truncatedObject_isDropped() throws IOException {
        Filler.Report r = new Filler(local)
                .fill(
                        lying(in -> {
                            try {
                                return new ByteArrayInputStream(Arrays.copyOf(in.readAllBytes(), 1000));
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }),
                        G,
                        e -> true,
                        FAR);
        assertOnlyTheGoodEntry(r);
    }

    @Test
    void endlessObject_isCutAtItsSize() throws IOException {
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                return 'x';
            }
        };
        Filler.Report r = new Filler(local).fill(lying(in -> new SequenceInputStream(in, endless)), G, e -> true, FAR);
        assertOnlyTheGoodEntry(r);
    }

    @Test
    void anotherGroupsEntriesInTheAnswer_areIgnored() throws IOException {
        GroupId theirs = new GroupId("team-b", "gpt", G.device(), G.product());
        Entry foreign = StoreFixture.commit(origin, theirs, "inductor/bb/cbb.py", "theirs\n".getBytes());
        EntrySource mixing = wrapped(
                l -> {
                    List<Entry> all = new ArrayList<>(l);
                    all.add(foreign);
                    return all;
                },
                (a, in) -> in);
        Filler.Report r = new Filler(local).fill(mixing, G, e -> true, FAR);
        assertThat(r.committed()).isEqualTo(2);
        assertThat(local.entries(theirs)).isEmpty();
        assertThat(local.exists(foreign.files().get(0).address())).isFalse();
    }

    @Test
    void deadline_commitsWhatIsWhole_andGivesBackTheRest() throws IOException {
        AtomicLong now = new AtomicLong();
        for (int i = 0; i < 6; i++) {
            StoreFixture.commit(origin, G, "inductor/c" + i + "/c" + i + ".py", ("kernel " + i).getBytes());
        }
        EntrySource slow = wrapped(l -> l, (a, in) -> {
            now.addAndGet(1_000); // each blob takes a microsecond of this clock
            return in;
        });
        Filler.Report r = new Filler(local, now::get).fill(slow, G, e -> true, 3_500);
        assertThat(r.timedOut()).isTrue();
        assertThat(r.blobsFetched()).isEqualTo(3);
        assertThat(r.committed() + r.incomplete()).isEqualTo(8);
        for (Entry e : local.entries(G)) {
            for (EntryFile f : e.files()) {
                assertThat(local.exists(f.address())).isTrue();
            }
        }
        assertThat(local.stats().blobs())
                .as("blobs of incomplete entries are given back")
                .isEqualTo(countBlobs(local));
        assertThat(local.verify().corrupt()).isEmpty();
        Filler.Report rest = new Filler(local, now::get).fill(slow, G, e -> true, FAR);
        assertThat(rest.present()).isEqualTo(r.committed());
        assertThat(local.entries(G)).hasSize(8);
    }

    @Test
    void localEntryOfTheSameName_isKept() throws IOException {
        Entry mine = StoreFixture.commit(local, G, "inductor/aa/caa.py", "print('mine')\n".getBytes());
        new Filler(local).fill(new StoreSource(origin), G, e -> true, FAR);
        assertThat(local.lookup(new EntryKey(G, "inductor/aa/caa.py")).files()).isEqualTo(mine.files());
        assertThat(good.files()).isNotEqualTo(mine.files());
    }

    private static long countBlobs(NodeStore s) {
        return s.entries(G).stream()
                .flatMap(e -> e.files().stream())
                .map(EntryFile::address)
                .distinct()
                .count();
    }
}
