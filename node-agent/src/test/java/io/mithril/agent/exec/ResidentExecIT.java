package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.FakeInductor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code exec} through a resident agent: every test of {@link ExecIT} again, with {@code serve}
 * running on the root (so each exec is prepared by the agent and its command run by the client),
 * and the cases only this path has: what the agent declines, a client or an agent that dies, a
 * session folder that is not the client's, and the view locks one agent process holds for many runs.
 */
class ResidentExecIT extends ExecIT {

    @BeforeEach
    void startResident() throws Exception {
        h.startResident();
    }

    @AfterEach
    void stopResident() throws Exception {
        if (h.resident.isAlive()) {
            long asked = h.residentRequests("served") + h.residentRequests("declined") + h.residentRequests("gone");
            long failed = h.residentRequests("failed");
            int code = h.stopResident();
            assertThat(asked)
                    .as("the agent was asked: %s", Files.readString(h.residentLog))
                    .isPositive();
            assertThat(failed).isZero();
            assertThat(code)
                    .as("stopped by SIGTERM: %s", Files.readString(h.residentLog))
                    .isEqualTo(143);
        }
        assertThat(h.root.resolve("agent").resolve("pid"))
                .as("a stopped agent is not asked")
                .doesNotExist();
    }

    /**
     * Killing an exec that the agent serves: before its command ended, the run counts as failed (as
     * when exec itself is killed: what was not settled is not taken); after, the agent finishes the
     * ingest the exec would have done. Either way the store verifies clean and a later run hits.
     */
    @Test
    @Override
    void sigkillOfTheAgentDuringIngest_thenVerifyIsCleanAndTheNextRunWorks() throws Exception {
        Random rnd = new Random(3);
        for (int i = 0; i < 3; i++) {
            Process p = h.start(h.workload(FakeInductor.class, h.fixture.toString(), "0"));
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).isNotNull();
            Thread.sleep(rnd.nextInt(400));
            p.destroyForcibly(); // the client
            p.waitFor(60, TimeUnit.SECONDS);
            int killed = i + 1;
            waitFor(() -> h.residentRequests("gone") + h.residentRequests("served") == killed);
            assertThat(h.verify()).isZero();
        }
        ExecHarness.Run r = h.fake();
        assertThat(r.code()).isZero();
        ExecHarness.Run warm = h.fake();
        assertThat(warm.out()).contains("HIT 24");
        assertThat(warm.ingested()).isZero();
        assertThat(h.verify()).isZero();
    }

    @Test
    void coldThenWarm_areServedByTheAgent_withTheSameHitsAsWithout() throws Exception {
        ExecHarness.Run cold = h.fake();
        ExecHarness.Run warm = h.fake();
        assertThat(cold.ingested()).isEqualTo(h.fixtureEntries());
        assertThat(warm.hits()).isEqualTo(24);
        assertThat(warm.ingested()).isZero();
        assertThat(h.residentRequests("served")).isEqualTo(2);
        assertThat(h.residentRequests("declined")).isZero();
        // the agent's runs count for their group as a pod's do (what the operator aggregates)
        String stats = h.resident("/v1/stats");
        assertThat(ExecHarness.jsonLong(stats, "hits")).as(stats).isEqualTo(24);
        assertThat(ExecHarness.jsonLong(stats, "misses")).as(stats).isEqualTo(h.fixtureEntries());
        assertThat(stats).contains("\"runs\":{\"nothingPublished\":1,\"warm\":1}");
    }

    @Test
    void whatTheAgentLeavesToExec_isDeclined_andRunsAsWithoutIt() throws Exception {
        ExecHarness.Run budget = h.sh("exit 0", "--budget", "64MiB"); // the agent has no budget of its own
        assertThat(budget.code()).isZero();
        Process bad = h.startWithErrFile(new ProcessBuilder(h.agent("exec", "--no-such-option", "--", "true")));
        assertThat(bad.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(bad.exitValue()).isEqualTo(2);
        assertThat(Files.readString(h.errFiles.get(bad))).contains("--no-such-option");
        Path other = Files.createDirectory(h.tmp.resolve("other-root"));
        ExecHarness.Run elsewhere = h.finish(
                h.startWithErrFile(new ProcessBuilder(h.agent("exec", "--root", other.toString(), "--", "true"))));
        assertThat(elsewhere.code()).isZero();
        assertThat(h.residentRequests("declined")).isEqualTo(2);
        assertThat(h.residentRequests("served")).isZero();
        assertThat(other.resolve("views")).as("the other root's own exec ran").exists();
    }

    @Test
    void clientKilledDuringItsRun_theAgentLeavesTheStillRunningCommandItsFolder_andServesTheNext() throws Exception {
        Process p = h.start(List.of("--", "sh", "-c", "echo $$; echo \"$TORCHINDUCTOR_CACHE_DIR\"; exec sleep 600"));
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        long command = Long.parseLong(out.readLine().trim());
        Path view = Path.of(out.readLine().trim()).getParent();
        p.destroyForcibly(); // the client, not its command
        p.waitFor(60, TimeUnit.SECONDS);
        waitFor(() -> h.residentRequests("gone") == 1);
        assertThat(view).as("the orphaned command still writes there").isDirectory();
        ProcessHandle.of(command).ifPresent(ProcessHandle::destroyForcibly);
        waitFor(() -> ProcessHandle.of(command).isEmpty());
        ExecHarness.Run next = h.fake();
        assertThat(next.code()).isZero();
        assertThat(h.residentRequests("served")).isEqualTo(1);
        assertThat(h.verify()).isZero();
    }

    @Test
    void agentStoppedDuringARun_theCommandFinishesWithItsOwnStatus() throws Exception {
        Process p = h.start(List.of("--", "sh", "-c", "echo started; sleep 3; exit 5"));
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("started");
        assertThat(h.stopResident()).isEqualTo(143);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(5);
        assertThat(Files.readString(h.errFiles.get(p))).contains("the agent went away during the run");
        ExecHarness.Run after = h.sh("exit 0"); // no agent now: exec runs by itself
        assertThat(after.code()).isZero();
    }

    @Test
    void agentKilled_execRunsByItself() throws Exception {
        h.resident.destroyForcibly();
        h.resident.waitFor(60, TimeUnit.SECONDS);
        assertThat(h.root.resolve("agent").resolve("pid"))
                .as("left by the killed agent")
                .exists();
        ExecHarness.Run r = h.fake();
        assertThat(r.code()).isZero();
        assertThat(r.ingested()).isEqualTo(h.fixtureEntries());
        Files.delete(h.root.resolve("agent").resolve("pid")); // what a restarted agent replaces
    }

    @Test
    void sessionsThatAreNotTheClients_areRefusedUnread_andTheAgentKeepsServing() throws Exception {
        Path sessions = h.root.resolve("agent").resolve("sessions");
        Path elsewhere = Files.createDirectory(h.tmp.resolve("elsewhere"));
        Files.write(elsewhere.resolve("request"), new byte[] {'Q', 0, 0, 0, 1});
        Files.createSymbolicLink(sessions.resolve("1-1"), elsewhere); // a link, not a folder
        Path garbage = Files.createDirectory(sessions.resolve("1-2"));
        Files.write(garbage.resolve("request"), new byte[] {'Q', 0, 0, 0, 1, 0x7f, 0x7f, 0x7f, 0x7f});
        Path linkedFile = Files.createDirectory(sessions.resolve("1-3"));
        Files.createSymbolicLink(linkedFile.resolve("request"), elsewhere.resolve("request"));
        try (RandomAccessFile pipe =
                new RandomAccessFile(h.root.resolve("agent").resolve("requests").toFile(), "rw")) {
            pipe.write("../../escape\n1-1\n1-2\n1-3\nnot-a-session\n".getBytes(StandardCharsets.US_ASCII));
        }
        ExecHarness.Run r = h.fake();
        assertThat(r.code()).isZero();
        assertThat(h.residentRequests("served")).isEqualTo(1);
        assertThat(elsewhere).as("nothing made in a linked folder").isDirectoryNotContaining("glob:**/{up,down}");
        assertThat(elsewhere.resolve("request"))
                .as("nor removed through the link")
                .exists();
    }

    @Test
    void runsOfOneAgentHoldTheirViewLocks_aSeparateExecOfTheGroupGetsAPrivateView() throws Exception {
        // Closing any channel on a lock file drops the process's POSIX lock: the agent must never open
        // a second one on a lock it holds, or the next process would take a view in use.
        List<Process> held = new ArrayList<>();
        List<String> canonical = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Process p = h.start(List.of("--", "sh", "-c", "echo \"$TORCHINDUCTOR_CACHE_DIR\"; read line"));
            held.add(p);
            canonical.add(
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine());
        }
        assertThat(canonical.get(0)).isNotEqualTo(canonical.get(1));
        ExecHarness.Run separate =
                h.sh("echo \"$TORCHINDUCTOR_CACHE_DIR\"", "--budget", "1GiB"); // declined: its own process
        assertThat(separate.out().trim()).isNotIn(canonical);
        for (Process p : held) {
            p.getOutputStream().write('\n');
            p.getOutputStream().flush();
            assertThat(h.finish(p).code()).isZero();
        }
        assertThat(h.residentRequests("served")).isEqualTo(2);
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void waitFor(Check c) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!c.ok()) {
            assertThat(System.nanoTime()).as("condition within 60 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
