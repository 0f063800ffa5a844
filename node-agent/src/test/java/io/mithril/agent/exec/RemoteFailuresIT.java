package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.BadRemotes;
import io.mithril.agent.S3ProxyServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A remote that fails in the ways a real one does short of going away: it accepts connections and
 * never answers (stalled), or answers every request 503 SlowDown (throttling). {@code exec} must
 * start the command within the fetch deadline, succeed, and keep what it compiled queued.
 */
class RemoteFailuresIT {
    private static final int DEADLINE_S = 3;

    @TempDir
    Path tmp;

    private final List<AutoCloseable> servers = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable s : servers) {
            s.close();
        }
    }

    private int stalled() throws IOException {
        return BadRemotes.stalled(servers);
    }

    private int throttling(AtomicInteger requests) throws IOException {
        return BadRemotes.throttling(requests, servers);
    }

    /** One exec whose command records when it started and compiles one entry; returns that start's delay in ms. */
    private long execAgainst(int port) throws Exception {
        ExecHarness h = new ExecHarness(tmp);
        Path key = Files.writeString(tmp.resolve("remote.key"), "a-key-the-test-agents-share-0123456789\n");
        Path started = tmp.resolve("started");
        List<String> args = new ArrayList<>(List.of(
                "--remote-fetch-deadline",
                "" + DEADLINE_S,
                "--remote-upload-limit",
                "3",
                "--",
                "sh",
                "-c",
                "date +%s%3N > " + started
                        + "; d=$TORCHINDUCTOR_CACHE_DIR/fxgraph/ab/fkey && mkdir -p $d && echo fx > $d/e1"));
        long t0 = System.currentTimeMillis();
        ExecHarness.Run r = h.finish(h.start(
                args,
                env -> env.putAll(S3ProxyServer.CREDENTIALS_ENV),
                "--remote",
                "s3://mithril/p/",
                "--remote-endpoint",
                "http://127.0.0.1:" + port,
                "--remote-key-file",
                key.toString()));
        long total = System.currentTimeMillis() - t0;
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.ingested()).isEqualTo(1);
        assertThat(r.err()).contains("going on without it").contains("1 entries stay queued for the next run");
        assertThat(Files.readAllLines(h.root.resolve("remote/upload-queue"))).hasSize(1);
        assertThat(total).as("ms for the whole exec: %s", r.err()).isLessThan(60_000);
        return Long.parseLong(Files.readString(started).trim()) - t0;
    }

    @Test
    void stalledRemote_delaysTheCommandByAtMostTheDeadline() throws Exception {
        long delay = execAgainst(stalled());
        // the deadline, the 2 s grace, and the agent's own start (a JVM) on 2 shared cores
        assertThat(delay).as("ms until the command ran").isLessThan((DEADLINE_S + 2) * 1000L + 8_000);
    }

    @Test
    void throttlingRemote_503SlowDown_neverFailsTheCommand() throws Exception {
        AtomicInteger requests = new AtomicInteger();
        long delay = execAgainst(throttling(requests));
        assertThat(delay).as("ms until the command ran").isLessThan((DEADLINE_S + 2) * 1000L + 8_000);
        assertThat(requests.get()).as("retried, but bounded").isBetween(2, 12);
    }
}
