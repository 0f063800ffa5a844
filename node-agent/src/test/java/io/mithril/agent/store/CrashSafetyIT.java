package io.mithril.agent.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.JavaChild;
import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILLs a working child process at random moments, 200 times. After each kill the store is
 * reopened: it must verify clean, and every commit the child acknowledged must be there with the
 * same files and blobs.
 */
class CrashSafetyIT {

    static final int KILLS = Integer.getInteger("mithril.crash.kills", 200);

    @TempDir
    Path tmp;

    @Test
    void sigkillAtRandomMoments_loseNoAcknowledgedCommit_andVerifyClean() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("store"));
        Map<String, String> acked = new HashMap<>();
        Random rnd = new Random(42);
        int killedMidWork = 0;
        for (int i = 0; i < KILLS; i++) {
            Process p = JavaChild.start(StoreWorker.class, root.toString(), "crash", Integer.toString(i));
            CountDownLatch ready = new CountDownLatch(1);
            Map<String, String> round = new HashMap<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader r =
                        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.equals("READY")) {
                            ready.countDown();
                        } else if (line.startsWith("ACK ")) {
                            String[] parts = line.split(" ");
                            synchronized (round) {
                                round.put(parts[1], parts[2]);
                            }
                        }
                    }
                } catch (java.io.IOException ignored) {
                    // the child died
                }
            });
            reader.start();
            assertThat(ready.await(60, TimeUnit.SECONDS))
                    .as("child %d started", i)
                    .isTrue();
            Thread.sleep(rnd.nextInt(400));
            p.destroyForcibly(); // SIGKILL on Linux
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            reader.join(10_000);
            if (p.exitValue() == 137) {
                killedMidWork++;
            }
            synchronized (round) {
                acked.putAll(round);
            }
            try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
                VerifyReport v = s.verify();
                assertThat(v.clean()).as("verify after kill %d: %s", i, v).isTrue();
                for (Map.Entry<String, String> a : acked.entrySet()) {
                    Entry e = s.lookup(new EntryKey(StoreWorker.KEEP, a.getKey()));
                    assertThat(e)
                            .as("acknowledged %s after kill %d", a.getKey(), i)
                            .isNotNull();
                    StringBuilder files = new StringBuilder();
                    for (EntryFile f : e.files()) {
                        files.append(files.length() == 0 ? "" : ",")
                                .append(f.path())
                                .append('=')
                                .append(f.address().hex());
                        assertThat(s.exists(f.address())).isTrue();
                    }
                    assertThat(files.toString()).isEqualTo(a.getValue());
                }
                assertThat(StoreFixture.filesIn(root.resolve("tmp")))
                        .as("temp files of the dead child")
                        .isZero();
                assertThat(StoreFixture.blobBytesOnDisk(root))
                        .as("no orphan blobs")
                        .isEqualTo(s.stats().bytes());
            }
        }
        // Most kills land mid-work: on a loaded machine a child may die before its first commit, so this
        // only guards against a harness that never lets children work.
        assertThat(acked).as("the children got real work done").hasSizeGreaterThan(KILLS / 5);
        assertThat(killedMidWork).isEqualTo(KILLS);
    }
}
