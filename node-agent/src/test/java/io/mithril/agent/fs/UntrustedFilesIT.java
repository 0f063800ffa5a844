package io.mithril.agent.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening a workload's files never blocks, never follows a link and never leaves the folder. */
class UntrustedFilesIT {

    @TempDir
    Path dir;

    @Test
    void openBeneath_regularFile_readsItsBytes() throws Exception {
        assumeTrue(UntrustedFiles.available(), "needs Linux with JNA's native part");
        Files.createDirectories(dir.resolve("a/b"));
        Files.writeString(dir.resolve("a/b/c.py"), "print(1)\n");
        try (UntrustedFiles.Opened in = UntrustedFiles.openBeneath(dir, Path.of("a/b/c.py"))) {
            assertThat(new String(in.readAllBytes())).isEqualTo("print(1)\n");
            assertThat(in.stat().regular()).isTrue();
            assertThat(in.stat().nlink()).isEqualTo(1);
            assertThat(in.stat().fileKey())
                    .isEqualTo(Files.readAttributes(
                                    dir.resolve("a/b/c.py"), java.nio.file.attribute.BasicFileAttributes.class)
                            .fileKey());
        }
    }

    @Test
    void openBeneath_fifoWithItsWriterHeld_isRefusedAtOnce() throws Exception {
        assumeTrue(UntrustedFiles.available(), "needs Linux with JNA's native part");
        Path fifo = dir.resolve("f.py");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor())
                .isZero();
        // a writer that holds the write end open (a blocking read would then wait forever)
        Process writer = new ProcessBuilder("sh", "-c", "exec 3>" + fifo + "; sleep 30").start();
        try {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir, Path.of("f.py")))
                    .isInstanceOf(UntrustedFiles.Refused.class)
                    .hasMessage("special file");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                    .as("ms: a blocking open would wait for the writer's 30 s or the lease's 45 s")
                    .isLessThan(20_000);
            // and without any writer (a blocking open would wait for one)
            assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir, Path.of("f.py")))
                    .hasMessage("special file");
        } finally {
            writer.destroyForcibly();
        }
    }

    @Test
    void openBeneath_linkInAnyComponent_isRefused() throws Exception {
        assumeTrue(UntrustedFiles.available(), "needs Linux with JNA's native part");
        Path outside = Files.createTempDirectory("outside");
        Files.writeString(outside.resolve("secret"), "s3cr3t");
        Files.createSymbolicLink(dir.resolve("parent"), outside);
        Files.createSymbolicLink(dir.resolve("last"), outside.resolve("secret"));
        assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir, Path.of("parent/secret")))
                .isInstanceOf(UntrustedFiles.Refused.class);
        assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir, Path.of("last")))
                .isInstanceOf(UntrustedFiles.Refused.class);
        assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir.resolve("parent"), Path.of("../parent/secret")))
                .isInstanceOf(java.io.IOException.class);
    }

    @Test
    void openBeneath_fileUnderWriteLease_isRefusedWithoutWaiting() throws Exception {
        assumeTrue(UntrustedFiles.available(), "needs Linux with JNA's native part");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3 to take the lease");
        Path f = dir.resolve("leased.py");
        Files.writeString(f, "x = 1\n");
        Process holder = new ProcessBuilder(
                        "python3",
                        "-c",
                        "import fcntl,os,sys,time\n"
                                + "fd=os.open(sys.argv[1], os.O_RDWR)\n"
                                + "fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)\n" // F_SETLEASE
                                + "print('held', flush=True)\n"
                                + "time.sleep(60)\n",
                        f.toString())
                .redirectErrorStream(true)
                .start();
        try {
            String line = new String(holder.getInputStream().readNBytes(5));
            assumeTrue(line.equals("held\n"), "this filesystem refuses leases: " + line);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> UntrustedFiles.openBeneath(dir, Path.of("leased.py")))
                    .hasMessage("file held by a lease");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0))
                    .as("ms: a blocking open would wait for the writer's 30 s or the lease's 45 s")
                    .isLessThan(20_000);
        } finally {
            holder.destroyForcibly();
        }
    }

    @Test
    void openNoAtime_ownFile_leavesAccessTimeAlone() throws Exception {
        Path f = dir.resolve("blob");
        Files.writeString(f, "bytes");
        java.nio.file.attribute.FileTime armed = java.nio.file.attribute.FileTime.fromMillis(
                Files.getLastModifiedTime(f).toMillis() - 1000);
        Files.getFileAttributeView(f, java.nio.file.attribute.BasicFileAttributeView.class)
                .setTimes(null, armed, null);
        try (InputStream in = UntrustedFiles.openNoAtime(f)) {
            assertThat(in.readAllBytes()).hasSize(5);
        }
        assumeTrue(UntrustedFiles.available(), "O_NOATIME needs native access");
        assertThat(Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class)
                        .lastAccessTime())
                .isEqualTo(armed);
    }
}
