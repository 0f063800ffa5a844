package io.mithril.agent.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** A real small filesystem for full-disk tests: a tmpfs mounted under a temp folder (needs root; skips otherwise). */
final class Tmpfs {

    private Tmpfs() {}

    static Path mount(Path parent, String size) throws Exception {
        Path mnt = Files.createDirectory(parent.resolve("tmpfs"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        p.waitFor(30, TimeUnit.SECONDS);
        Assumptions.assumeTrue(p.exitValue() == 0, "cannot mount a tmpfs here (needs root): " + out);
        return mnt;
    }

    static void unmount(Path mnt) throws Exception {
        if (mnt != null) {
            new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
