package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mithril.agent.B3sum;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and failing workloads through {@code exec}, as an attacker or a careless user would run
 * them: nothing they do reaches the store, stalls ingest, or gets a broken compile served, and a
 * cache that cannot serve never keeps the command from running. Cases that need a second user or
 * root's powers skip with a message where the tests do not run as root (CI runs them as root).
 */
class HostileExecIT {

    static final String I = "\"$TORCHINDUCTOR_CACHE_DIR\"";

    @TempDir
    Path tmpDir;

    ExecHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new ExecHarness(tmpDir);
    }

    static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    List<Path> blobs() throws Exception {
        try (Stream<Path> s = Files.walk(h.root.resolve("blobs"))) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .collect(Collectors.toList());
        }
    }

    Set<String> blobNames() throws Exception {
        return blobs().stream().map(p -> p.getFileName().toString()).collect(Collectors.toSet());
    }

    static String b3(String content) throws Exception {
        Path f = Files.createTempFile("b3", ".txt");
        Files.writeString(f, content);
        try {
            return B3sum.of(f);
        } finally {
            Files.delete(f);
        }
    }

    @Test
    void chmodAndChownOfTheCacheFolders_leaveTheBlobsReadOnlyAndTheStoreOwners() throws Exception {
        assertThat(h.sh("mkdir -p " + I + "/ab && echo 'x = 1' > " + I + "/ab/cone.py && echo 'y = 2' > " + I
                                + "/ab/ctwo.py")
                        .ingested())
                .isEqualTo(2);
        Object owner = Files.getAttribute(h.root.resolve("blobs"), "unix:uid");
        String script = "chmod -R a+w \"$TORCHINDUCTOR_CACHE_DIR\" \"$TRITON_CACHE_DIR\""
                + (root() ? " && chown -R nobody \"$TORCHINDUCTOR_CACHE_DIR\" \"$TRITON_CACHE_DIR\"" : "");
        ExecHarness.Run warm = h.sh(script);
        assertThat(warm.code()).as(warm.err()).isZero();
        assertThat(warm.restored()).isEqualTo(2);
        for (Path b : blobs()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(b, LinkOption.NOFOLLOW_LINKS);
            assertThat(perms)
                    .as(b.toString())
                    .doesNotContain(
                            PosixFilePermission.OWNER_WRITE,
                            PosixFilePermission.GROUP_WRITE,
                            PosixFilePermission.OTHERS_WRITE);
            assertThat(Files.getAttribute(b, "unix:uid", LinkOption.NOFOLLOW_LINKS))
                    .as(b.toString())
                    .isEqualTo(owner);
        }
        assertThat(h.verify()).isZero();
    }

    @Test
    void privateFileAndHardLinkToAFileElsewhere_areNeverStoredNorServed() throws Exception {
        String secret = "SECRET-" + UUID.randomUUID() + "\n";
        Path outside = Files.writeString(tmpDir.resolve("secret.txt"), secret); // the same filesystem as the store
        String privately = "PRIVATE-" + UUID.randomUUID();
        ExecHarness.Run cold =
                h.sh("mkdir -p " + I + "/ab && (umask 077; echo " + privately + " > " + I + "/ab/cprivate.py) && ln '"
                        + outside + "' " + I + "/ab/clinked.py && echo ok > " + I + "/ab/cpublic.py");
        assertThat(cold.code()).as(cold.err()).isZero();
        assertThat(cold.ingested()).isEqualTo(1);
        assertThat(cold.err()).contains("private file").contains("hard link to a file elsewhere");
        assertThat(blobNames()).doesNotContain(b3(secret), b3(privately + "\n")).contains(b3("ok\n"));
        ExecHarness.Run warm = h.sh("test -e " + I + "/ab/cpublic.py && test ! -e " + I
                + "/ab/cprivate.py && test ! -e " + I + "/ab/clinked.py");
        assertThat(warm.code()).as(warm.err()).isZero();
    }

    @Test
    void inPlaceRewriteOfAServedFile_whileItRuns_leavesTheStoredBytesAlone() throws Exception {
        h.sh("mkdir -p " + I + "/ab && echo original > " + I + "/ab/cfile.py");
        String original = b3("original\n");
        Path blob = blobs().stream()
                .filter(p -> p.getFileName().toString().equals(original))
                .findFirst()
                .orElseThrow();
        Process warm =
                h.start(List.of("--", "sh", "-c", "printf rewritten > " + I + "/ab/cfile.py; echo rewrote; sleep 2"));
        BufferedReader out = new BufferedReader(new InputStreamReader(warm.getInputStream(), StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("rewrote"); // same inode, new bytes, while its view lives
        assertThat(Files.readString(blob)).isEqualTo("original\n");
        assertThat(h.finish(warm).code()).isZero();
        assertThat(h.verify()).isZero();
        ExecHarness.Run third = h.sh("test \"$(cat " + I + "/ab/cfile.py)\" = rewritten");
        assertThat(third.code()).as("the rewrite is the entry's next version").isZero();
    }

    @Test
    void fifoWithItsWriterHeldAndAFileUnderALease_doNotStallTheEnd() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3 to take a lease");
        String lease =
                "import fcntl,os,sys,time\nfd=os.open(sys.argv[1], os.O_RDWR)\nfcntl.fcntl(fd, 1024, fcntl.F_WRLCK)\n"
                        + "open(sys.argv[2], 'w').close()\ntime.sleep(90)\n";
        Path leased = tmpDir.resolve("leased"); // python says it holds the lease: no guessing how long it takes
        Files.writeString(tmpDir.resolve("lease.py"), lease);
        String script = "mkdir -p " + I + "/ab; mkfifo " + I + "/ab/cfifo.py; echo leased > " + I + "/ab/cleased.py\n"
                + "(exec 3<>" + I + "/ab/cfifo.py; sleep 90.123) >/dev/null 2>&1 &\n"
                + "python3 '" + tmpDir.resolve("lease.py") + "' " + I + "/ab/cleased.py '" + leased
                + "' >/dev/null 2>&1 &\n"
                + "i=0; while [ ! -e '" + leased + "' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n"
                + "echo 'def k(): pass' > " + I + "/ab/chonest.py; sleep 3\n";
        long t0 = System.nanoTime();
        Process p = h.start(List.of("--", "sh", "-c", script));
        ExecHarness.Run r;
        try {
            r = h.finish(p);
        } finally {
            new ProcessBuilder("pkill", "-f", "sleep 90.123").start().waitFor();
            new ProcessBuilder("pkill", "-f", tmpDir.resolve("lease.py").toString())
                    .start()
                    .waitFor();
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.ingested()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("special file").contains("file held by a lease");
        assertThat(seconds)
                .as("a blocked open would take 45 s (lease) or forever (FIFO)")
                .isLessThan(30);
    }

    @Test
    void tenThousandNestedFolders_thisAndLaterExecsRunTheirCommands() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3 to make the folders quickly");
        ExecHarness.Run deep = h.sh("python3 -c \"import os\nos.chdir(os.environ['TORCHINDUCTOR_CACHE_DIR'])\n"
                + "for _ in range(10000):\n  os.mkdir('d'); os.chdir('d')\n\" && echo made");
        assertThat(deep.code()).as(deep.err()).isZero();
        assertThat(deep.out()).contains("made");
        ExecHarness.Run next = h.sh("echo ran");
        assertThat(next.code()).as(next.err()).isZero();
        assertThat(next.out()).contains("ran");
        assertThat(h.sh("echo again").out()).contains("again");
    }

    @Test
    void killedAndFailingCommands_theirTornFilesAreNeverServed() throws Exception {
        String torn = "mkdir -p " + I + "/ab && head -c 300013 /dev/urandom > " + I + "/ab/ctorn.py && ";
        ExecHarness.Run killed = h.sh(torn + "kill -9 $$");
        assertThat(killed.code()).isEqualTo(137);
        assertThat(killed.ingested()).isZero();
        ExecHarness.Run failed = h.sh(torn + "exit 1");
        assertThat(failed.code()).isEqualTo(1);
        assertThat(failed.ingested()).isZero();
        ExecHarness.Run next = h.sh("test ! -e " + I + "/ab/ctorn.py");
        assertThat(next.code()).as("the torn file is not served").isZero();
        assertThat(h.verify()).isZero();
    }

    @Test
    void failedRun_keepsSettledInductorEntries_butNoVllmIndexItMayHaveTorn() throws Exception {
        String v = "\"$VLLM_CACHE_ROOT\"/torch_compile_cache/0123456789/rank_0_0/backbone";
        ExecHarness.Run failed = h.sh(
                "mkdir -p " + I + "/ab " + v + " && echo 'x = 1' > " + I + "/ab/cearly.py && echo '{}' > " + v
                        + "/vllm_compile_cache.py && sleep 3 && exit 1",
                "--frameworks",
                "inductor,triton,vllm");
        assertThat(failed.code()).isEqualTo(1);
        assertThat(failed.ingested()).as(failed.err()).isEqualTo(1);
        assertThat(failed.err()).contains("from a failed run");
        ExecHarness.Run next = h.sh(
                "test -e " + I + "/ab/cearly.py && test ! -e " + v + "/vllm_compile_cache.py",
                "--frameworks",
                "inductor,triton,vllm");
        assertThat(next.code()).as(next.err()).isZero();
    }

    @Test
    void namesAreBytes_underThePosixLocaleAndUtf8_nothingFailsAndNothingCollapses() throws Exception {
        String names = "e=$(printf '\\303\\251'); a=$(printf '\\377'); b=$(printf '\\376'); d=" + I + "/ab; ";
        String write = names
                + "mkdir -p \"$d\" && printf 1 > \"$d/caf$e.py\" && printf 2 > \"$d/x$a.py\" && printf 3 > \"$d/x$b.py\"";
        String check = names
                + "test \"$(cat \"$d/caf$e.py\")\" = 1 && test \"$(cat \"$d/x$a.py\")\" = 2 && test \"$(cat \"$d/x$b.py\")\" = 3";
        java.util.function.Consumer<java.util.Map<String, String>> posix = env -> {
            env.remove("LANG");
            env.remove("LC_ALL");
            env.remove("LC_CTYPE");
        };
        ExecHarness.Run cold = h.finish(h.start(List.of("--", "sh", "-c", write), posix));
        assertThat(cold.code()).as(cold.err()).isZero();
        assertThat(cold.ingested()).isEqualTo(3);
        ExecHarness.Run posixWarm = h.finish(h.start(List.of("--", "sh", "-c", check), posix));
        assertThat(posixWarm.code()).as(posixWarm.err()).isZero();
        assertThat(posixWarm.restored()).isEqualTo(3);
        ExecHarness.Run utf8Warm =
                h.finish(h.start(List.of("--", "sh", "-c", check), env -> env.put("LC_ALL", "C.UTF-8")));
        assertThat(utf8Warm.code()).as(utf8Warm.err()).isZero();
        assertThat(utf8Warm.ingested()).isZero();
    }

    @Test
    void agentKilledWhileItsCommandKeepsWriting_laterExecsRunAndNeverTakeTheOrphansFiles() throws Exception {
        Process first = h.start(List.of(
                "--",
                "sh",
                "-c",
                "mkdir -p " + I + "/ab; echo PID $$; " + "while true; do echo x >> " + I
                        + "/ab/corphan.py; sleep 0.1; done"));
        BufferedReader out = new BufferedReader(new InputStreamReader(first.getInputStream(), StandardCharsets.UTF_8));
        Matcher m = Pattern.compile("PID (\\d+)").matcher(out.readLine());
        assertThat(m.matches()).isTrue();
        long orphan = Long.parseLong(m.group(1));
        first.destroyForcibly(); // kill -9 of the agent; its command goes on
        first.waitFor(30, TimeUnit.SECONDS);
        try {
            for (int i = 0; i < 4; i++) {
                ExecHarness.Run r = h.sh("test ! -e " + I + "/ab/corphan.py");
                assertThat(r.code()).as(r.err()).isZero();
                assertThat(r.ingested()).isZero();
            }
        } finally {
            ProcessHandle.of(orphan).ifPresent(ProcessHandle::destroyForcibly);
        }
        Thread.sleep(300);
        ExecHarness.Run after = h.sh("test ! -e " + I + "/ab/corphan.py");
        assertThat(after.code())
                .as("the orphan's files are not served once it is gone either")
                .isZero();
        assertThat(h.verify()).isZero();
    }

    @Test
    void publishFailure_runsTheCommandWithAnEmptyCacheAndSaysSo() throws Exception {
        assumeTrue(root(), "an undeletable file in the view (chattr +i) needs root");
        h.sh("mkdir -p " + I + "/ab && echo 'x = 1' > " + I + "/ab/cone.py");
        Path views = h.root.resolve("views");
        Path stuck;
        try (Stream<Path> s = Files.list(views)) {
            stuck = s.filter(Files::isDirectory).findFirst().orElse(null);
        }
        if (stuck == null) { // the view is removed at the end: make the folder a killed run would have left
            try (Stream<Path> s = Files.list(views)) {
                String lock = s.map(p -> p.getFileName().toString())
                        .filter(n -> n.endsWith(".lock"))
                        .findFirst()
                        .orElseThrow();
                stuck = Files.createDirectory(views.resolve(lock.substring(0, lock.length() - ".lock".length())));
            }
        }
        Path pinned = Files.writeString(stuck.resolve("undeletable"), "x");
        assumeTrue(
                new ProcessBuilder("chattr", "+i", pinned.toString()).start().waitFor() == 0, "chattr +i refused here");
        try {
            ExecHarness.Run r = h.sh("test -d " + I + " && test -z \"$(ls -A " + I + ")\" && echo ran; exit 5");
            assertThat(r.code()).isEqualTo(5);
            assertThat(r.out()).contains("ran");
            assertThat(r.err()).contains("could not publish the cache");
        } finally {
            new ProcessBuilder("chattr", "-i", pinned.toString()).start().waitFor();
        }
        ExecHarness.Run next = h.sh("test -e " + I + "/ab/cone.py");
        assertThat(next.code()).as(next.err()).isZero();
    }

    @Test
    void verifyDuringAWorkload_isNotCountedAsItsUse() throws Exception {
        StringBuilder write = new StringBuilder("mkdir -p " + I + "/ab");
        for (int i = 0; i < 20; i++) {
            write.append(" && echo 'v = ")
                    .append(i)
                    .append("' > ")
                    .append(I)
                    .append("/ab/cf")
                    .append(i)
                    .append(".py");
        }
        h.sh(write.toString());
        Process idle = h.start(List.of("--", "sh", "-c", "sleep 4"));
        Thread.sleep(1500);
        assertThat(h.verify()).isZero();
        ExecHarness.Run r = h.finish(idle);
        assertThat(r.restored()).isEqualTo(20);
        assertThat(r.hits()).as("the store's own reads are no workload's").isZero();
    }
}
