package io.mithril.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real H100 cache in {@code ../shared/fixtures/torch211-h100-gpt12l}: read-only there, extracted
 * into temp directories here.
 */
public final class Fixture {
    private Fixture() {}

    public static Path dir() {
        Path shared = Path.of(System.getProperty("mithril.shared", "../../shared"));
        Path d = shared.resolve("fixtures/torch211-h100-gpt12l");
        if (!Files.isDirectory(d)) {
            d = Path.of("..", "..", "shared", "fixtures", "torch211-h100-gpt12l");
        }
        if (!Files.isDirectory(d)) {
            throw new IllegalStateException(
                    "fixture not found; expected ../shared beside the checkout: " + d.toAbsolutePath());
        }
        return d;
    }

    /** Extracts the cache tree; returns the folder holding {@code inductor/} and {@code triton/}. */
    public static Path extract(Path into) throws IOException, InterruptedException {
        Files.createDirectories(into);
        Process p = new ProcessBuilder(
                        "tar",
                        "-xzf",
                        dir().resolve("inductor-triton-cache.tar.gz").toString(),
                        "-C",
                        into.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("tar failed: " + out);
        }
        return into.resolve("cache");
    }

    /** Relative paths of every file of the fixture tree, from its manifest. */
    public static List<String> manifestPaths() throws IOException {
        Matcher m =
                Pattern.compile("\"path\":\\s*\"([^\"]+)\"").matcher(Files.readString(dir().resolve("manifest.json")));
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** The files a warm start opened for reading, relative to the cache root (e.g. {@code inductor/aotautograd/...}). */
    public static List<String> warmStartReads() throws IOException {
        Matcher m = Pattern.compile("\\[\"open\", \"/tmp/mithril-probe/A/([^\"]+)\", \"r\"\\]")
                .matcher(Files.readString(dir().resolve("warm-start-file-events.json")));
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** A Triton group file ({@code __grp__<name>.json}, triton/runtime/cache.py put_group) naming these children. */
    public static byte[] tritonGroup(String... children) {
        StringBuilder b = new StringBuilder("{\"child_paths\": {");
        for (int i = 0; i < children.length; i++) {
            b.append(i > 0 ? ", " : "")
                    .append('"')
                    .append(children[i])
                    .append("\": \"/v/triton/KEY/")
                    .append(children[i])
                    .append('"');
        }
        return b.append("}}").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
