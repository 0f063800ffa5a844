package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.FakeInductor;
import io.mithril.agent.Fixture;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code bin/mithril-agent exec} as users do: real agent processes around real workload
 * processes, on real directories under one root. Shared by the exec test classes.
 */
final class ExecHarness {

    static final Pattern SUMMARY = Pattern.compile(
            "restored (\\d+) entries .* read (\\d+) entries \\(hits\\); ingested (\\d+) entries .* refused (\\d+) files; ([^\n]*)");

    final Path tmp;
    final Path fixture;
    /** The device class every exec is given ({@code --device}). */
    String device = "cuda-9.0";

    final Path root;

    ExecHarness(Path tmp) throws Exception {
        this.tmp = tmp;
        this.fixture = Fixture.extract(tmp.resolve("fx"));
        this.root = Files.createDirectory(tmp.resolve("root"));
    }

    /** {@code why}: the summary's diagnosis ({@code warm: ...}, {@code key changed: ...}). */
    record Run(int code, String out, String err, int restored, int hits, int ingested, int refused, String why) {}

    static Path launcher() {
        return Path.of(System.getProperty("user.dir")).getParent().resolve("bin/mithril-agent");
    }

    List<String> agent(String... args) {
        List<String> cmd = new ArrayList<>(List.of(launcher().toString(), "--root", root.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    List<String> workload(Class<?> main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(
                "--",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                main.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    Process start(List<String> execArgs, String... agentArgs) throws Exception {
        return start(execArgs, env -> {}, agentArgs);
    }

    /** As {@link #start(List, String...)}, with the agent's environment changed by {@code env} first. */
    Process start(
            List<String> execArgs, java.util.function.Consumer<java.util.Map<String, String>> env, String... agentArgs)
            throws Exception {
        List<String> cmd = agent(agentArgs);
        cmd.add("exec");
        cmd.add("--device");
        cmd.add(device);
        cmd.add("--product");
        cmd.add("NVIDIA H100 80GB HBM3");
        cmd.addAll(execArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("TORCHINDUCTOR_CACHE_DIR");
        pb.environment().remove("TRITON_CACHE_DIR");
        env.accept(pb.environment());
        return startWithErrFile(pb);
    }

    /** One exec of a shell script (the cache folders are in $TORCHINDUCTOR_CACHE_DIR and friends). */
    Run sh(String script, String... execOptions) throws Exception {
        List<String> args = new ArrayList<>(List.of(execOptions));
        args.addAll(List.of("--", "sh", "-c", script));
        return finish(start(args));
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
        assertThat(p.waitFor(600, TimeUnit.SECONDS)).as("exec ended").isTrue();
        t.join(30_000);
        Path errFile = errFiles.get(p);
        String err = errFile != null
                ? Files.readString(errFile)
                : new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        Matcher m = SUMMARY.matcher(err);
        assertThat(m.find()).as("summary line in: %s", err).isTrue();
        assertThat(err).doesNotContain("Exception");
        return new Run(
                p.exitValue(),
                out[0],
                err,
                Integer.parseInt(m.group(1)),
                Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)),
                Integer.parseInt(m.group(4)),
                m.group(5));
    }

    Run fake(String... agentArgs) throws Exception {
        return finish(start(workload(FakeInductor.class, fixture.toString(), "300"), agentArgs));
    }

    int verify() throws Exception {
        Process p =
                new ProcessBuilder(agent("verify")).redirectErrorStream(true).start();
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

    /** A resident agent ({@code serve}) on the root, while started: every exec asks it first. */
    Process resident;

    int residentPort;

    Path residentLog;

    /** Starts {@code serve} on the root and waits until it takes exec's requests. */
    void startResident() throws Exception {
        residentLog = Files.createTempFile(tmp, "serve", ".log");
        resident = new ProcessBuilder(agent("serve", "--listen", "127.0.0.1:0"))
                .redirectErrorStream(true)
                .redirectOutput(residentLog.toFile())
                .start();
        Pattern port = Pattern.compile("on http://127\\.0\\.0\\.1:(\\d+)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            Matcher m = port.matcher(Files.readString(residentLog));
            if (m.find() && Files.exists(root.resolve("agent").resolve("pid"))) {
                residentPort = Integer.parseInt(m.group(1));
                return;
            }
            assertThat(resident.isAlive())
                    .as("serve runs: %s", Files.readString(residentLog))
                    .isTrue();
            assertThat(System.nanoTime()).as("serve up in 120 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    /** SIGTERM to the resident agent; its exit code. */
    int stopResident() throws Exception {
        resident.destroy();
        assertThat(resident.waitFor(60, TimeUnit.SECONDS)).as("serve stops").isTrue();
        return resident.exitValue();
    }

    /** {@code mithril_exec_requests_total{outcome=...}} of the resident agent. */
    long residentRequests(String outcome) throws Exception {
        String metrics = resident("/metrics");
        Matcher m = Pattern.compile("mithril_exec_requests_total\\{outcome=\"" + outcome + "\"\\} (\\d+)")
                .matcher(metrics);
        assertThat(m.find()).as(metrics).isTrue();
        return Long.parseLong(m.group(1));
    }

    /** The body of a GET of {@code path} from the resident agent's HTTP server. */
    String resident(String path) throws Exception {
        HttpURLConnection c = (HttpURLConnection)
                URI.create("http://127.0.0.1:" + residentPort + path).toURL().openConnection();
        try (InputStream in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            c.disconnect();
        }
    }

    static long jsonLong(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(\\d+)").matcher(json);
        assertThat(m.find()).as(field + " in " + json).isTrue();
        return Long.parseLong(m.group(1));
    }

    static int fixtureEntries() throws Exception {
        return (int) Fixture.manifestPaths().stream()
                .map(p -> io.mithril.agent.framework.EntryRules.classify(p).entryName())
                .distinct()
                .count();
    }
}
