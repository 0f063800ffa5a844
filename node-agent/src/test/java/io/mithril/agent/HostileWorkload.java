package io.mithril.agent;

import java.io.RandomAccessFile;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A workload that writes what an attacker or a broken framework would into its cache directories:
 * a symlink to /etc/passwd, a symlinked folder, a FIFO, a Unix socket, a 2 GiB sparse file, 100,000
 * tiny files, names with a newline, and a file a leftover background process keeps appending to.
 * Also one honest module, which must still be ingested. Prints the growing file's writer pid.
 */
public final class HostileWorkload {

    public static void main(String[] args) throws Exception {
        Path ind = Path.of(System.getenv("TORCHINDUCTOR_CACHE_DIR"));
        Path tri = Path.of(System.getenv("TRITON_CACHE_DIR"));
        Path ab = Files.createDirectories(ind.resolve("ab"));
        Files.createSymbolicLink(ab.resolve("cpasswd.py"), Path.of("/etc/passwd"));
        Files.createSymbolicLink(tri.resolve("ETCLINK"), Path.of("/etc"));
        new ProcessBuilder("mkfifo", ab.resolve("cfifo.py").toString()).start().waitFor();
        ServerSocketChannel sock = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        Path shortDir =
                Files.createTempDirectory(ab, "s"); // socket paths are limited to 108 bytes: bind short, then rename
        Path shortSock = Path.of("/tmp").resolve("ms" + ProcessHandle.current().pid());
        sock.bind(UnixDomainSocketAddress.of(shortSock));
        Files.move(shortSock, ab.resolve("csock.py"));
        Files.delete(shortDir);
        try (RandomAccessFile f = new RandomAccessFile(
                Files.createDirectories(ind.resolve("sp")).resolve("csparse.py").toFile(), "rw")) {
            f.setLength(2L << 30);
        }
        Path tiny = Files.createDirectories(ind.resolve("ti"));
        for (int i = 0; i < 100_000; i++) {
            Files.writeString(tiny.resolve("c" + i + ".py"), Integer.toString(i));
        }
        Files.writeString(Files.createDirectories(ind.resolve("nl")).resolve("cevil\nname.py"), "evil");
        Files.writeString(Files.createDirectories(ind.resolve("ok")).resolve("chonest.py"), "def kernel(): pass\n");
        Path grow = Files.createDirectories(ind.resolve("gr")).resolve("cgrow.py");
        Process writer = new ProcessBuilder("sh", "-c", "while true; do echo growing >> '" + grow + "'; done")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        Thread.sleep(200);
        System.out.println("WRITER " + writer.pid());
        System.out.flush();
        sock.close();
        Runtime.getRuntime().halt(0); // leave the writer running, as a stray background process would
    }
}
