package io.mithril.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.B3sum;
import io.mithril.agent.store.StoreFixture;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: exit codes, one-line errors, never a stack trace. */
class AgentMainIT {

    @TempDir
    Path tmp;

    record Run(int code, byte[] out, String err) {
        String text() {
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = AgentMain.run(args, out, err);
        String e = err.toString(StandardCharsets.UTF_8);
        assertThat(e).doesNotContain("Exception").doesNotContain("\tat ");
        return new Run(code, out.toByteArray(), e);
    }

    Path root() throws Exception {
        return Files.createDirectories(tmp.resolve("root"));
    }

    @Test
    void putThenGet_roundTripsBytes_andAddressIsB3sum() throws Exception {
        Path f = tmp.resolve("data.bin");
        Files.write(f, StoreFixture.bytes(1, 300_000));
        String r = root().toString();
        Run put = run("--root", r, "store", "put", f.toString());
        assertThat(put.code()).isZero();
        String address = put.text().trim();
        assertThat(address).isEqualTo(B3sum.of(f));
        Run get = run("--root", r, "store", "get", address);
        assertThat(get.code()).isZero();
        assertThat(get.out()).isEqualTo(Files.readAllBytes(f));
        Run stats = run("--root", r, "stats", "--json");
        assertThat(stats.text()).contains("\"entries\":1").contains("\"bytes\":300000");
        assertThat(run("--root", r, "stats").text()).contains("local/cli/cpu/none");
        assertThat(run("--root", r, "verify").code()).isZero();
    }

    @Test
    void badInput_oneLineErrorAndNonZeroExit() throws Exception {
        String r = root().toString();
        Run malformed = run("--root", r, "store", "get", "../../etc/passwd");
        assertThat(malformed.code()).isEqualTo(2);
        assertThat(malformed.err()).contains("malformed address").hasLineCount(1);
        Run absent = run("--root", r, "store", "get", "a".repeat(64));
        assertThat(absent.code()).isEqualTo(1);
        assertThat(absent.err()).contains("not in the store");
        Run unit = run("--root", r, "gc", "--budget", "10XB");
        assertThat(unit.code()).isEqualTo(2);
        assertThat(unit.err()).contains("unknown size unit 'XB'");
        Run missing = run("--root", tmp.resolve("nope").toString(), "stats");
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("store root does not exist").hasLineCount(1);
        Path file = Files.writeString(tmp.resolve("plain"), "x");
        assertThat(run("--root", file.toString(), "stats").code()).isEqualTo(2);
        Run notRegular = run("--root", r, "store", "put", tmp.toString());
        assertThat(notRegular.code()).isEqualTo(2);
        assertThat(notRegular.err()).contains("not a regular file");
    }

    @Test
    void unwritableRoot_isRefused() throws Exception {
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        boolean mounted = false;
        if ("root".equals(System.getProperty("user.name"))) {
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro.toString()).start();
            p.waitFor(30, TimeUnit.SECONDS);
            Assumptions.assumeTrue(p.exitValue() == 0, "root but cannot mount a read-only tmpfs");
            mounted = true;
        } else {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        }
        try {
            Run r = run("--root", ro.toString(), "stats");
            assertThat(r.code()).isEqualTo(2);
            assertThat(r.err()).contains("not writable").hasLineCount(1);
        } finally {
            if (mounted) {
                new ProcessBuilder("umount", ro.toString()).start().waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void verify_corruption_exitsOne_andGcEvictsToBudget() throws Exception {
        String r = root().toString();
        String[] addrs = new String[5];
        for (int i = 0; i < 5; i++) {
            Path f = tmp.resolve("f" + i);
            Files.write(f, StoreFixture.bytes(i, 10_000));
            addrs[i] = run("--root", r, "store", "put", f.toString()).text().trim();
        }
        Path blob = Path.of(r, "blobs", addrs[0].substring(0, 2), addrs[0]);
        Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-r--r--"));
        Files.write(blob, new byte[] {0}, StandardOpenOption.APPEND);
        Run v = run("--root", r, "verify");
        assertThat(v.code()).isEqualTo(1);
        assertThat(v.text()).contains("corrupt blob quarantined: " + addrs[0]);
        assertThat(run("--root", r, "store", "get", addrs[0]).code()).isEqualTo(1);
        Run gc = run("--root", r, "gc", "--budget", "25000");
        assertThat(gc.code()).isZero();
        assertThat(gc.text()).startsWith("evicted 2 entries");
        assertThat(run("--root", r, "store", "get", addrs[1]).code())
                .as("oldest evicted")
                .isEqualTo(1);
        assertThat(run("--root", r, "store", "get", addrs[4]).code()).isZero();
    }

    /** Issue 3's synopsis, {@code exec [--root DIR] [--budget SIZE] ...}: the store's options after the command name too. */
    @Test
    void storeOptionsAfterTheCommand_workAsBeforeIt() throws Exception {
        Path f = tmp.resolve("data.bin");
        Files.write(f, StoreFixture.bytes(7, 50_000));
        String r = root().toString();
        Run put = run("store", "put", "--root", r, "--budget", "1MiB", f.toString());
        assertThat(put.code()).as(put.err()).isZero();
        assertThat(run("--root", r, "store", "get", put.text().trim()).out()).isEqualTo(Files.readAllBytes(f));
        assertThat(run("stats", "--root", r, "--json").text()).contains("\"entries\":1");
        assertThat(run("stats", "--json", "--root", r, "--budget", "1MiB").text())
                .contains("1048576");
        Run tooSmall = run("store", "put", "--budget", "1000", "--root", r, f.toString());
        assertThat(tooSmall.code())
                .as("the budget after the command is the one used")
                .isEqualTo(3);
        Path other = Files.createDirectories(tmp.resolve("other"));
        assertThat(run("--root", other.toString(), "verify", "--root", r).text())
                .as("the later --root wins")
                .contains("checked 1 blobs");
        assertThat(run("gc", "--root", r, "--budget", "0").text()).startsWith("evicted 1 entries");
    }

    @Test
    void everyCommandsHelp_printsItsUsageAndExitsZero() {
        for (String[] args : new String[][] {
            {"--help"},
            {"exec", "--help"},
            {"serve", "--help"},
            {"store", "--help"},
            {"store", "put", "--help"},
            {"store", "get", "--help"},
            {"stats", "--help"},
            {"verify", "--help"},
            {"gc", "--help"}
        }) {
            Run h = run(args);
            String cmd = String.join(" ", args).replace("--help", "").trim();
            assertThat(h.code()).as(cmd + ": " + h.err()).isZero();
            assertThat(h.text())
                    .as(cmd)
                    .startsWith(("Usage: mithril-agent " + cmd).trim())
                    .doesNotContain("Missing required");
        }
        assertThat(run("exec", "--help").text()).contains("--root").contains("--frameworks");
    }

    @Test
    void verify_blobMadeWritable_isRepaired_countedAndListed_exitsZero() throws Exception {
        String r = root().toString();
        Path f = tmp.resolve("f");
        Files.write(f, StoreFixture.bytes(1, 10_000));
        String addr = run("--root", r, "store", "put", f.toString()).text().trim();
        Path blob = Path.of(r, "blobs", addr.substring(0, 2), addr);
        Files.setPosixFilePermissions(blob, PosixFilePermissions.fromString("rw-rw-rw-"));
        Run v = run("--root", r, "verify");
        assertThat(v.code()).as(v.text()).isZero();
        assertThat(v.text())
                .startsWith("checked 1 blobs")
                .contains("0 corrupt", "1 repaired (mode or owner)")
                .contains("blob mode or owner repaired: " + addr);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(blob)))
                .isEqualTo("r--r--r--");
    }
}
