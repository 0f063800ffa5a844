package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.B3sum;
import io.mithril.agent.FakeInductor;
import io.mithril.agent.HostileWorkload;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/mithril-agent exec} as users run it: real agent processes around real workload processes
 * that behave like Inductor (replaying the H100 fixture), on real directories.
 */
class ExecIT {

    @TempDir
    Path tmpDir;

    ExecHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new ExecHarness(tmpDir);
    }

    @Test
    void firstExecMissesAndIngestsEverything_secondReadsEverythingAndIngestsNothing() throws Exception {
        ExecHarness.Run cold = h.fake();
        assertThat(cold.code()).isZero();
        assertThat(cold.out()).contains("MISS 544");
        assertThat(cold.restored()).isZero();
        assertThat(cold.ingested()).isEqualTo(h.fixtureEntries());
        assertThat(cold.refused()).isZero();
        ExecHarness.Run warm = h.fake();
        assertThat(warm.out()).contains("HIT 24");
        assertThat(warm.restored()).isEqualTo(h.fixtureEntries());
        assertThat(warm.ingested()).isZero();
        assertThat(warm.hits())
                .as("1 aotautograd + 2 fxgraph + 2 modules + 19 autotune picks")
                .isEqualTo(24);
        assertThat(h.verify()).isZero();
    }

    @Test
    void exitCodeAndUserSetVariable_areHonoured() throws Exception {
        List<String> cmd = h.agent("exec", "--", "sh", "-c", "echo \"$TORCHINDUCTOR_CACHE_DIR\"; exit 7");
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("TORCHINDUCTOR_CACHE_DIR", "/somewhere/else");
        ExecHarness.Run r = h.finish(h.startWithErrFile(pb));
        assertThat(r.code()).isEqualTo(7);
        assertThat(r.out().trim()).isEqualTo("/somewhere/else");
        assertThat(r.err()).contains("TORCHINDUCTOR_CACHE_DIR is already set to /somewhere/else");
        ExecHarness.Run bad =
                h.finish(h.startWithErrFile(new ProcessBuilder(h.agent("exec", "--", "sh", "-c", "kill -TERM $$"))));
        assertThat(bad.code()).isEqualTo(143);
    }

    @Test
    void sigtermToTheAgent_isForwarded_andOnlyWhatSettledBeforeTheStopIsIngested() throws Exception {
        // A stopped run failed: of Inductor's files (written whole under their final names) it keeps
        // what was unchanged for the settle time; a file written just before the stop may be torn.
        String script =
                "trap 'exit 42' TERM; mkdir -p \"$TORCHINDUCTOR_CACHE_DIR/ab\" \"$TORCHINDUCTOR_CACHE_DIR/cd\"; "
                        + "echo 'x = 1' > \"$TORCHINDUCTOR_CACHE_DIR/ab/csig.py\"; sleep 3; "
                        + "head -c 300013 /dev/urandom > \"$TORCHINDUCTOR_CACHE_DIR/cd/ctorn.py\"; echo ready; "
                        // rewritten until the stop: however slow the stop, it never looks settled
                        + "while true; do head -c 300013 /dev/urandom > \"$TORCHINDUCTOR_CACHE_DIR/cd/ctorn.py\"; sleep 0.05; done";
        List<String> cmd = h.agent("exec", "--", "sh", "-c", script);
        Path errFile = h.tmp.resolve("agent.err");
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("ready");
        p.destroy(); // SIGTERM to the agent
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String err = Files.readString(errFile);
        assertThat(p.exitValue()).as(err).isEqualTo(42);
        Matcher m = ExecHarness.SUMMARY.matcher(err);
        assertThat(m.find()).as(err).isTrue();
        assertThat(Integer.parseInt(m.group(3))).as("ingested").isEqualTo(1);
    }

    @Test
    void hostileWorkload_agentFinishesVerifyCleanAndHoldsNoHostileBytes() throws Exception {
        Process p = h.start(h.workload(HostileWorkload.class));
        ExecHarness.Run r;
        long writer = -1;
        try {
            r = h.finish(p);
            Matcher m = Pattern.compile("WRITER (\\d+)").matcher(r.out());
            assertThat(m.find()).isTrue();
            writer = Long.parseLong(m.group(1));
        } finally {
            if (writer > 0) {
                ProcessHandle.of(writer).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        assertThat(r.code()).isZero();
        assertThat(r.refused()).as(r.err()).isGreaterThanOrEqualTo(5);
        assertThat(r.err())
                .contains("symlink")
                .contains("special file")
                .contains("file too large")
                .contains("bad name");
        assertThat(h.verify()).isZero();
        String stats = h.statsJson();
        assertThat(h.jsonLong(stats, "bytes"))
                .as("no 2 GiB file, no 100,000 files of payload beyond the limit")
                .isLessThan(2_000_000);
        String passwd = B3sum.of(Path.of("/etc/passwd"));
        try (Stream<Path> s = Files.walk(h.root.resolve("blobs"))) {
            assertThat(s.filter(Files::isRegularFile).map(x -> x.getFileName().toString()))
                    .doesNotContain(passwd);
        }
        ExecHarness.Run next = h.fake();
        assertThat(next.code()).isZero();
        assertThat(next.ingested()).isEqualTo(h.fixtureEntries());
    }

    @Test
    void budgetSmallerThanOneRun_staysUnderTheHardLimit_andLaterRunsWork() throws Exception {
        long budget = 4L << 20;
        for (int i = 0; i < 3; i++) {
            ExecHarness.Run r = h.fake("--budget", "4MiB");
            assertThat(r.code()).isZero();
            String stats = h.statsJson();
            assertThat(h.jsonLong(stats, "bytes")).isLessThanOrEqualTo(budget);
        }
        try (Stream<Path> s = Files.walk(h.root.resolve("blobs"))) {
            assertThat(s.filter(Files::isRegularFile)
                            .mapToLong(x -> x.toFile().length())
                            .sum())
                    .isLessThanOrEqualTo(budget);
        }
        assertThat(h.verify()).isZero();
    }

    @Test
    void twoConcurrentExecsOnOneRoot_bothSucceed_andTheNextOneHits() throws Exception {
        Process a = h.start(h.workload(FakeInductor.class, h.fixture.toString(), "500"));
        Process b = h.start(h.workload(FakeInductor.class, h.fixture.toString(), "500"));
        ExecHarness.Run ra = h.finish(a);
        ExecHarness.Run rb = h.finish(b);
        assertThat(ra.code()).isZero();
        assertThat(rb.code()).isZero();
        assertThat(h.verify()).isZero();
        ExecHarness.Run warm = h.fake();
        assertThat(warm.out()).contains("HIT");
        assertThat(warm.ingested()).isZero();
    }

    @Test
    void sigkillOfTheAgentDuringIngest_thenVerifyIsCleanAndTheNextRunWorks() throws Exception {
        Random rnd = new Random(3);
        for (int i = 0; i < 3; i++) {
            Process p = h.start(h.workload(FakeInductor.class, h.fixture.toString(), "0"));
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine(); // the workload's MISS line: it wrote everything and ends; ingest starts
            assertThat(line).startsWith("MISS");
            Thread.sleep(rnd.nextInt(400));
            p.destroyForcibly();
            p.waitFor(60, TimeUnit.SECONDS);
            assertThat(h.verify()).isZero();
        }
        ExecHarness.Run r = h.fake();
        assertThat(r.code()).isZero();
        ExecHarness.Run warm = h.fake();
        assertThat(warm.out()).contains("HIT");
        assertThat(h.verify()).isZero();
    }
}
