package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static io.mithril.agent.store.StoreFixture.filesIn;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.Entry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code verify} and {@code recheck}: what they read, what they repair, what they quarantine. */
class VerifyIT {

    @TempDir
    Path tmp;

    NodeStore open() throws IOException {
        return NodeStore.open(Files.createDirectories(tmp.resolve("store")), StoreConfig.defaults());
    }

    /** {@code n} entries of one blob each. */
    static List<Entry> fill(NodeStore s, int n) throws IOException {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(commit(s, H100, "e" + i + "/", bytes(i, 2000)));
        }
        return out;
    }

    static Address blobOf(Entry e) {
        return e.files().get(0).address();
    }

    /** Overwrites a few bytes of a blob in place, as a workload writing through a link would. */
    static void tamper(NodeStore s, Address a) throws IOException {
        Path p = s.blobPath(a);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        try (var ch = Files.newByteChannel(p, StandardOpenOption.WRITE)) {
            ch.position(7);
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {9, 9, 9}));
        }
    }

    /** A workload's cache folder holding hard links to these blobs. */
    Path linkedView(NodeStore s, List<Entry> entries) throws IOException {
        Path view = Files.createDirectories(tmp.resolve("view"));
        for (Entry e : entries) {
            Files.createLink(view.resolve(e.key().name().replace("/", "") + ".py"), s.blobPath(blobOf(e)));
        }
        return view;
    }

    static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + ": " + out).isZero();
    }

    static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    }

    static int uid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void recheck_oneTamperedSuspectAmongMany_settlesOnlyIt_andLeavesTheRestToVerify() throws Exception {
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 300);
            Entry suspect = entries.get(17);
            Entry elsewhere = entries.get(230);
            tamper(s, blobOf(suspect));
            tamper(s, blobOf(elsewhere)); // damaged too, but nobody said so: a full verify would find it

            assertThat(s.recheck(Set.of(blobOf(suspect), blobOf(entries.get(3)))))
                    .isTrue();

            assertThat(s.lookup(suspect.key()))
                    .as("the tampered suspect's entry is dropped")
                    .isNull();
            assertThat(s.exists(blobOf(suspect))).isFalse();
            assertThat(filesIn(s.root().resolve("quarantine"))).isEqualTo(1);
            assertThat(s.lookup(entries.get(3).key()))
                    .as("a sound suspect stays")
                    .isNotNull();
            assertThat(s.lookup(elsewhere.key()))
                    .as("recheck did not read beyond its suspects")
                    .isNotNull();
            assertThat(s.exists(blobOf(elsewhere))).isTrue();

            VerifyReport r = s.verify();
            assertThat(r.corrupt()).containsExactly(blobOf(elsewhere));
            assertThat(r.droppedEntries()).containsExactly(elsewhere.key());
            assertThat(r.repaired()).isEmpty();
        }
    }

    @Test
    void recheck_soundSuspects_findNothing() throws Exception {
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 5);
            assertThat(s.recheck(List.of(blobOf(entries.get(0)), blobOf(entries.get(1)))))
                    .isFalse();
            assertThat(s.verify().clean()).isTrue();
        }
    }

    @Test
    void verify_blobsMadeWritableThroughALink_areSealedAgain_andStillServed() throws Exception {
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 4);
            Path view = linkedView(s, entries.subList(0, 3));
            run("chmod", "-R", "a+w", view.toString()); // a workload's chmod reaches the blobs themselves
            assertThat(mode(s.blobPath(blobOf(entries.get(0))))).isEqualTo(0666);

            VerifyReport r = s.verify();

            assertThat(r.repaired())
                    .containsExactlyInAnyOrder(blobOf(entries.get(0)), blobOf(entries.get(1)), blobOf(entries.get(2)));
            assertThat(r.corrupt()).isEmpty();
            assertThat(r.clean())
                    .as("the bytes were right: nothing wrong was served")
                    .isTrue();
            for (Entry e : entries) {
                assertThat(mode(s.blobPath(blobOf(e)))).isEqualTo(0444);
                assertThat(s.lookup(e.key())).isNotNull();
            }
            assertThat(s.verify().repaired()).as("repaired once, for good").isEmpty();
        }
    }

    @Test
    void verify_blobsGivenAwayThroughALink_getTheStoresOwnerBack() throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root to chown a blob to another user (CI runs this as root)");
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 3);
            int storeUid = uid(s.root());
            Path view = linkedView(s, entries.subList(0, 2));
            run("chown", "-R", "65534", view.toString()); // nobody
            run("chmod", "-R", "u+w,o+w", view.toString());
            assertThat(uid(s.blobPath(blobOf(entries.get(0))))).isNotEqualTo(storeUid);

            VerifyReport r = s.verify();

            assertThat(r.repaired()).containsExactlyInAnyOrder(blobOf(entries.get(0)), blobOf(entries.get(1)));
            assertThat(r.corrupt()).isEmpty();
            for (Entry e : entries) {
                assertThat(uid(s.blobPath(blobOf(e)))).isEqualTo(storeUid);
                assertThat(mode(s.blobPath(blobOf(e)))).isEqualTo(0444);
            }
        }
    }

    @Test
    void verify_anotherUsersStoreOpenedByRoot_leavesBlobsRootWrote_andGivesStolenOnesToTheStoresUser()
            throws Exception {
        Assumptions.assumeTrue(
                "root".equals(System.getProperty("user.name")),
                "needs root to own a store folder as another user (CI runs this as root)");
        Path root = Files.createDirectories(tmp.resolve("store"));
        Files.setAttribute(root, "unix:uid", 4321); // a user's own store, opened by root (sudo)
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 2);
            assertThat(uid(s.blobPath(blobOf(entries.get(0)))))
                    .as("written by root")
                    .isZero();
            assertThat(s.verify().repaired())
                    .as("blobs of this process's user are fine")
                    .isEmpty();
            Files.setAttribute(s.blobPath(blobOf(entries.get(1))), "unix:uid", 65534);

            VerifyReport r = s.verify();

            assertThat(r.repaired()).containsExactly(blobOf(entries.get(1)));
            assertThat(uid(s.blobPath(blobOf(entries.get(1)))))
                    .as("the store's user")
                    .isEqualTo(4321);
            assertThat(s.lookup(entries.get(1).key())).isNotNull();
        }
    }

    @Test
    void verify_blobWithWrongModeAndWrongBytes_isQuarantined_notRepaired() throws Exception {
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 3);
            tamper(s, blobOf(entries.get(1))); // leaves it 0644 as well
            VerifyReport r = s.verify();
            assertThat(r.corrupt()).containsExactly(blobOf(entries.get(1)));
            assertThat(r.repaired()).isEmpty();
            assertThat(s.lookup(entries.get(1).key())).isNull();
        }
    }

    @Test
    void recheck_suspectMadeWritable_isSealedAgain() throws Exception {
        try (NodeStore s = open()) {
            List<Entry> entries = fill(s, 2);
            Path blob = s.blobPath(blobOf(entries.get(0)));
            Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-rw-rw-"));
            assertThat(s.recheck(Set.of(blobOf(entries.get(0)))))
                    .as("nothing quarantined")
                    .isFalse();
            assertThat(mode(blob)).isEqualTo(0444);
            assertThat(s.lookup(entries.get(0).key())).isNotNull();
        }
    }
}
