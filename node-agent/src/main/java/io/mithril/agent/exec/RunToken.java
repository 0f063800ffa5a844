package io.mithril.agent.exec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Tells whether anything an {@code exec} started still runs, after that {@code exec} is gone.
 *
 * <p>A command's children outlive it when the agent is killed with {@code -9}, or when the command
 * leaves a background writer behind. Such a process keeps writing into the view by its absolute
 * paths, so that folder must neither be cleared under it nor handed to the next run (which would
 * take the orphan's files as its own). Every process of a run inherits {@code MITHRIL_RUN=<token>}
 * in its environment; the run is live while any process in {@code /proc} carries it. A process
 * that clears its environment escapes this: it is the careless case that is covered, not a hostile
 * one (a hostile workload can only spoil its own view, never the store).
 */
final class RunToken {

    static final String ENV = "MITHRIL_RUN";

    private RunToken() {}

    static String create() {
        return UUID.randomUUID().toString();
    }

    /** Whether a process carrying the token still runs (processes of other users cannot be read: not ours). */
    static boolean alive(String token) {
        if (token == null || token.isEmpty()) {
            return false;
        }
        byte[] needle = (ENV + "=" + token + "\0").getBytes(StandardCharsets.US_ASCII);
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(
                Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : procs) {
                if (Long.parseLong(p.getFileName().toString()) == self) {
                    continue;
                }
                try {
                    if (contains(Files.readAllBytes(p.resolve("environ")), needle)) {
                        return true;
                    }
                } catch (IOException | SecurityException gone) {
                    // ended meanwhile, or another user's
                }
            }
        } catch (IOException noProc) {
            return false; // no /proc: nothing can be told, as before
        }
        return false;
    }

    /** The token recorded beside a view ({@code <view>.run}), or null. */
    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII).trim();
        } catch (IOException none) {
            return null;
        }
    }

    private static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            if (i > 0 && hay[i - 1] != 0) {
                continue; // only at the start of a variable
            }
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
