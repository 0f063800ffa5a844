package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.JavaChild;
import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.exec.DeviceProbe;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Races and leaks found in review, each reproduced before its fix: a commit whose room-making
 * eviction would delete a blob the same entry names; verify racing a commit; a reservation left
 * behind when another process commits the same blob first; a hung nvidia-smi.
 */
class StoreRaceIT {

    @TempDir
    Path root;

    /** Room-making eviction must spare entries holding blobs the incoming entry names. */
    @Test
    void commit_makingRoomNeverDeletesABlobTheSameEntryNames() throws Exception {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withLimits(10_000, 10_000))) {
            byte[] z = StoreFixture.bytes(1, 3_000);
            byte[] f = StoreFixture.bytes(2, 5_000);
            byte[] n = StoreFixture.bytes(3, 4_000);
            Entry v = StoreFixture.commit(s, StoreFixture.A100, "old/", z); // LRU victim, holds Z
            StoreFixture.commit(s, StoreFixture.H100, "filler/", f);
            // Another process put N (its put renamed it into place; ours would see existed=true).
            BlobStore other = new BlobStore(root, "otherprocess", BlobStore.WriteFaults.NONE);
            BlobStore.Written wn = other.write(new ByteArrayInputStream(n), BlobStore.Growth.NONE);
            Address za = v.files().get(0).address();
            Entry e = s.commit(
                    new EntryKey(StoreFixture.H100, "new/"),
                    List.of(
                            new EntryFile("z", za, z.length, false),
                            new EntryFile("n", wn.address(), wn.size(), false)),
                    "test");
            assertThat(e).isNotNull(); // acknowledged, durable
            assertThat(s.lookup(e.key())).isNotNull();
            assertThat(s.exists(za))
                    .as("blob named by the just-committed entry")
                    .isTrue();
        }
    }

    /** An entry committed while verify hashes is neither lost nor dropped. */
    @Test
    void verify_concurrentCommitIsNotTakenForLost() throws Exception {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            long big = 200L << 20;
            s.put(
                    new InputStream() { // a big blob so hashing takes a while
                        long left = big;

                        @Override
                        public int read() {
                            return left-- > 0 ? (int) (left & 0xff) : -1;
                        }

                        @Override
                        public int read(byte[] b, int o, int l) {
                            if (left <= 0) return -1;
                            int k = (int) Math.min(l, left);
                            for (int i = 0; i < k; i++) b[o + i] = (byte) (left - i);
                            left -= k;
                            return k;
                        }
                    },
                    big);
            StoreFixture.commit(s, StoreFixture.A100, "big/", new byte[0]); // keep the store non-trivial
            CompletableFuture<VerifyReport> vr = CompletableFuture.supplyAsync(() -> {
                try {
                    return s.verify();
                } catch (Exception ex) {
                    throw new RuntimeException(ex);
                }
            });
            Thread.sleep(100);
            assertThat(vr).isNotDone();
            Entry e = StoreFixture.commit(s, StoreFixture.H100, "fresh/", StoreFixture.bytes(9, 1000));
            VerifyReport r = vr.get();
            assertThat(r.clean()).as("verify dropped %s", r.droppedEntries()).isTrue();
            assertThat(s.lookup(e.key()))
                    .as("acknowledged entry after a concurrent verify")
                    .isNotNull();
            assertThat(s.exists(e.files().get(0).address())).isTrue();
        }
    }

    /** Child: put the same bytes and commit them under another entry. */
    public static final class Child {
        public static void main(String[] a) throws Exception {
            try (NodeStore s = NodeStore.open(Path.of(a[0]), StoreConfig.defaults())) {
                StoreFixture.commit(s, StoreFixture.A100, "child/", StoreFixture.bytes(42, 50_000));
            }
            System.out.println("DONE");
        }
    }

    /** A blob put here and committed by another process first, then by us: nothing stays reserved. */
    @Test
    void reservation_isReleasedWhenAnotherProcessCommitsTheBlobFirst() throws Exception {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults().withReconcileOnOpen(false))) {
            byte[] x = StoreFixture.bytes(42, 50_000);
            NodeStore.Stored w = s.put(new ByteArrayInputStream(x), x.length);
            Process p = JavaChild.start(Child.class, root.toString());
            assertThat(new String(p.getInputStream().readAllBytes())).contains("DONE");
            p.waitFor();
            s.commit(
                    new EntryKey(StoreFixture.H100, "mine/"),
                    List.of(new EntryFile("x", w.address(), w.size(), false)),
                    "t");
            StoreStats st = s.stats();
            assertThat(st.reservedBytes()).as("nothing is in flight any more").isZero();
        }
    }

    /** A hung nvidia-smi must not hang exec: after 10 s the probe gives up and says cpu. */
    @Test
    void deviceProbe_stuckNvidiaSmi_fallsBackToCpuWithinTheTimeout() throws Exception {
        Path smi = root.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\necho '9.0, NVIDIA H100'\nexec sleep 25\n");
        Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
        long t0 = System.nanoTime();
        DeviceProbe.Device d = DeviceProbe.detect(smi.toString());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(d.deviceClass().text()).isEqualTo("cpu");
        assertThat(ms).as("ms: the probe's 10 s, not the stuck tool's 25 s").isLessThan(20_000);
    }
}
