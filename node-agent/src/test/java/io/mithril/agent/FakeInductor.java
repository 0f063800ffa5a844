package io.mithril.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * A workload that behaves like Inductor with Triton, replaying the real fixture: if every file a warm
 * start reads is in its cache directories it reads them (a hit) and writes nothing; otherwise, after
 * a compile delay, it writes the whole fixture tree the way the frameworks do (Inductor: a dot-temp
 * file renamed into place; Triton: a {@code tmp.pid_*} folder renamed to the kernel key).
 * Args: {@code FIXTURE_CACHE_DIR DELAY_MS}. Prints {@code HIT n} or {@code MISS n}.
 */
public final class FakeInductor {

    public static void main(String[] args) throws Exception {
        Path fixture = Path.of(args[0]);
        long delay = Long.parseLong(args[1]);
        Path ind = Path.of(System.getenv("TORCHINDUCTOR_CACHE_DIR"));
        Path tri = Path.of(System.getenv("TRITON_CACHE_DIR"));
        List<String> reads = Fixture.warmStartReads();
        boolean hit = true;
        for (String r : reads) {
            if (!Files.isRegularFile(map(r, ind, tri))) {
                hit = false;
                break;
            }
        }
        if (hit) {
            byte[] buf = new byte[1 << 16];
            for (String r : reads) {
                try (InputStream in = Files.newInputStream(map(r, ind, tri))) {
                    while (in.read(buf) >= 0) {
                        // read it all, as unpickling would
                    }
                }
            }
            System.out.println("HIT " + reads.size());
            return;
        }
        Thread.sleep(delay);
        long pid = ProcessHandle.current().pid();
        int[] n = {0};
        Path srcInd = fixture.resolve("inductor");
        Files.walkFileTree(srcInd, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Path dest = ind.resolve(srcInd.relativize(f).toString());
                Files.createDirectories(dest.getParent());
                Path tmp = dest.getParent()
                        .resolve("." + pid + "." + Thread.currentThread().getId() + ".tmp");
                Files.copy(f, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                n[0]++;
                return FileVisitResult.CONTINUE;
            }
        });
        Path srcTri = fixture.resolve("triton");
        try (var keys = Files.list(srcTri)) {
            for (Path key : (Iterable<Path>) keys::iterator) {
                Path dest = tri.resolve(key.getFileName().toString());
                if (Files.exists(dest)) {
                    continue;
                }
                Path tmp = tri.resolve(
                        "tmp.pid_" + pid + "_" + key.getFileName().toString().substring(0, 8));
                Files.createDirectories(tmp);
                try (var files = Files.list(key)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Files.copy(f, tmp.resolve(f.getFileName().toString()));
                        n[0]++;
                    }
                }
                Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        System.out.println("MISS " + n[0]);
    }

    static Path map(String rel, Path ind, Path tri) {
        if (rel.startsWith("inductor/")) {
            return ind.resolve(rel.substring("inductor/".length()));
        }
        return tri.resolve(rel.substring("triton/".length()));
    }
}
