package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.B3sum;
import io.mithril.agent.FakeInductor;
import io.mithril.agent.Fixture;
import io.mithril.agent.HostileWorkload;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

    static final Pattern SUMMARY = Pattern.compile(
            "restored (\\d+) entries .* read (\\d+) entries \\(hits\\); ingested (\\d+) entries .* refused (\\d+) files");

    @TempDir
    Path tmp;
    Path fixture;
    Path root;

    @BeforeEach
    void setUp() throws Exception {
        fixture = Fixture.extract(tmp.resolve("fx"));
        root = Files.createDirectory(tmp.resolve("root"));
    }

    record Run(int code, String out, String err, int restored, int hits, int ingested, int refused) {}

    static Path launcher() {
        return Path.of(System.getProperty("user.dir")).getParent().resolve("bin/mithril-agent");
    }

    List<String> agent(String... args) {
        List<String> cmd = new ArrayList<>(List.of(launcher().toString(), "--root", root.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    List<String> workload(Class<?> main, String... args) {
        List<String> cmd = new ArrayList<>(List.of("--", Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    Process start(List<String> execArgs, String... agentArgs) throws Exception {
        List<String> cmd = agent(agentArgs);
        cmd.add("exec");
        cmd.add("--device");
        cmd.add("cuda-9.0");
        cmd.add("--product");
        cmd.add("NVIDIA H100 80GB HBM3");
        cmd.addAll(execArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("TORCHINDUCTOR_CACHE_DIR");
        pb.environment().remove("TRITON_CACHE_DIR");
        return startWithErrFile(pb);
    }

    /** stderr goes to a file (read after exit): reading a pipe while the process exits can lose it. */
    Process startWithErrFile(ProcessBuilder pb) throws Exception {
        Path err = Files.createTempFile(tmp, "agent", ".err");
        Process p = pb.redirectError(err.toFile()).start();
        errFiles.put(p, err);
        return p;
    }

    final java.util.Map<Process, Path> errFiles = new java.util.concurrent.ConcurrentHashMap<>();

    Run finish(Process p) throws Exception {
        String[] out = new String[1];
        Thread t = new Thread(() -> {
            try {
                out[0] = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (Exception e) {
                out[0] = "";
            }
        });
        t.start();
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        t.join(30_000);
        Path errFile = errFiles.get(p);
        String err = errFile != null ? Files.readString(errFile) : new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        Matcher m = SUMMARY.matcher(err);
        assertThat(m.find()).as("summary line in: %s", err).isTrue();
        assertThat(err).doesNotContain("Exception");
        return new Run(p.exitValue(), out[0], err, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)));
    }

    Run fake(String... agentArgs) throws Exception {
        return finish(start(workload(FakeInductor.class, fixture.toString(), "300"), agentArgs));
    }

    int verify() throws Exception {
        Process p = new ProcessBuilder(agent("verify")).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor(300, TimeUnit.SECONDS);
        return p.exitValue();
    }

    String statsJson() throws Exception {
        Process p = new ProcessBuilder(agent("stats", "--json")).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return out;
    }

    static long jsonLong(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(\\d+)").matcher(json);
        assertThat(m.find()).as(field + " in " + json).isTrue();
        return Long.parseLong(m.group(1));
    }

    static int fixtureEntries() throws Exception {
        return (int) Fixture.manifestPaths().stream().map(p -> io.mithril.agent.framework.EntryRules.classify(p).entryName())
                .distinct().count();
    }

    @Test
    void firstExecMissesAndIngestsEverything_secondReadsEverythingAndIngestsNothing() throws Exception {
        Run cold = fake();
        assertThat(cold.code()).isZero();
        assertThat(cold.out()).contains("MISS 544");
        assertThat(cold.restored()).isZero();
        assertThat(cold.ingested()).isEqualTo(fixtureEntries());
        assertThat(cold.refused()).isZero();
        Run warm = fake();
        assertThat(warm.out()).contains("HIT 24");
        assertThat(warm.restored()).isEqualTo(fixtureEntries());
        assertThat(warm.ingested()).isZero();
        assertThat(warm.hits()).as("1 aotautograd + 2 fxgraph + 2 modules + 19 autotune picks").isEqualTo(24);
        assertThat(verify()).isZero();
    }

    @Test
    void exitCodeAndUserSetVariable_areHonoured() throws Exception {
        List<String> cmd = agent("exec", "--", "sh", "-c", "echo \"$TORCHINDUCTOR_CACHE_DIR\"; exit 7");
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("TORCHINDUCTOR_CACHE_DIR", "/somewhere/else");
        Run r = finish(startWithErrFile(pb));
        assertThat(r.code()).isEqualTo(7);
        assertThat(r.out().trim()).isEqualTo("/somewhere/else");
        assertThat(r.err()).contains("TORCHINDUCTOR_CACHE_DIR is already set to /somewhere/else");
        Run bad = finish(startWithErrFile(new ProcessBuilder(agent("exec", "--", "sh", "-c", "kill -TERM $$"))));
        assertThat(bad.code()).isEqualTo(143);
    }

    @Test
    void sigtermToTheAgent_isForwarded_andWhatTheCommandWroteIsStillIngested() throws Exception {
        String script = "trap 'exit 42' TERM; mkdir -p \"$TORCHINDUCTOR_CACHE_DIR/ab\"; "
                + "echo 'x = 1' > \"$TORCHINDUCTOR_CACHE_DIR/ab/csig.py\"; echo ready; while true; do sleep 0.05; done";
        List<String> cmd = agent("exec", "--", "sh", "-c", script);
        Path errFile = tmp.resolve("agent.err");
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("ready");
        p.destroy(); // SIGTERM to the agent
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String err = Files.readString(errFile);
        assertThat(p.exitValue()).as(err).isEqualTo(42);
        Matcher m = SUMMARY.matcher(err);
        assertThat(m.find()).as(err).isTrue();
        assertThat(Integer.parseInt(m.group(3))).as("ingested").isEqualTo(1);
    }

    @Test
    void hostileWorkload_agentFinishesVerifyCleanAndHoldsNoHostileBytes() throws Exception {
        Process p = start(workload(HostileWorkload.class));
        Run r;
        long writer = -1;
        try {
            r = finish(p);
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
        assertThat(r.err()).contains("symlink").contains("special file").contains("file too large").contains("bad name");
        assertThat(verify()).isZero();
        String stats = statsJson();
        assertThat(jsonLong(stats, "bytes")).as("no 2 GiB file, no 100,000 files of payload beyond the limit").isLessThan(2_000_000);
        String passwd = B3sum.of(Path.of("/etc/passwd"));
        try (Stream<Path> s = Files.walk(root.resolve("blobs"))) {
            assertThat(s.filter(Files::isRegularFile).map(x -> x.getFileName().toString())).doesNotContain(passwd);
        }
        Run next = fake();
        assertThat(next.code()).isZero();
        assertThat(next.ingested()).isEqualTo(fixtureEntries());
    }

    @Test
    void budgetSmallerThanOneRun_staysUnderTheHardLimit_andLaterRunsWork() throws Exception {
        long budget = 4L << 20;
        for (int i = 0; i < 3; i++) {
            Run r = fake("--budget", "4MiB");
            assertThat(r.code()).isZero();
            String stats = statsJson();
            assertThat(jsonLong(stats, "bytes")).isLessThanOrEqualTo(budget);
        }
        try (Stream<Path> s = Files.walk(root.resolve("blobs"))) {
            assertThat(s.filter(Files::isRegularFile).mapToLong(x -> x.toFile().length()).sum()).isLessThanOrEqualTo(budget);
        }
        assertThat(verify()).isZero();
    }

    @Test
    void twoConcurrentExecsOnOneRoot_bothSucceed_andTheNextOneHits() throws Exception {
        Process a = start(workload(FakeInductor.class, fixture.toString(), "500"));
        Process b = start(workload(FakeInductor.class, fixture.toString(), "500"));
        Run ra = finish(a);
        Run rb = finish(b);
        assertThat(ra.code()).isZero();
        assertThat(rb.code()).isZero();
        assertThat(verify()).isZero();
        Run warm = fake();
        assertThat(warm.out()).contains("HIT");
        assertThat(warm.ingested()).isZero();
    }

    @Test
    void sigkillOfTheAgentDuringIngest_thenVerifyIsCleanAndTheNextRunWorks() throws Exception {
        Random rnd = new Random(3);
        for (int i = 0; i < 3; i++) {
            Process p = start(workload(FakeInductor.class, fixture.toString(), "0"));
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine(); // the workload's MISS line: it wrote everything and ends; ingest starts
            assertThat(line).startsWith("MISS");
            Thread.sleep(rnd.nextInt(400));
            p.destroyForcibly();
            p.waitFor(60, TimeUnit.SECONDS);
            assertThat(verify()).isZero();
        }
        Run r = fake();
        assertThat(r.code()).isZero();
        Run warm = fake();
        assertThat(warm.out()).contains("HIT");
        assertThat(verify()).isZero();
    }
}
