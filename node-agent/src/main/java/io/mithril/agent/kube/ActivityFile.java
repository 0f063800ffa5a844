package io.mithril.agent.kube;

import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.fs.NodeRoot;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.serve.AgentMetrics;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Each group's hits and misses, kept in {@code <root>/activity} so that a restarted agent goes on
 * counting where it stopped (the hit ratio of {@code kubectl get cc} would otherwise fall back to
 * what happened since the restart). One line per group, {@code GROUP HITS MISSES [OUTCOME=RUNS ...]}, written whole
 * (temp, fsync, rename) after each pod; a line that does not parse is skipped, never fatal: these are
 * figures, not cache contents.
 */
final class ActivityFile {

    private static final Logger log = LoggerFactory.getLogger(ActivityFile.class);

    private final Path file;

    ActivityFile(Path storeRoot) {
        this.file = NodeRoot.activity(storeRoot);
    }

    /** Adds the saved counts to the metrics (at start, before any pod). */
    void load(AgentMetrics metrics) {
        if (!Files.isRegularFile(file)) {
            return;
        }
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] p = line.trim().split(" ");
                try {
                    GroupId g = GroupId.parse(p[0]);
                    metrics.groupActivity(
                            g, Math.toIntExact(Long.parseLong(p[1])), Math.toIntExact(Long.parseLong(p[2])));
                    for (int i = 3; i < p.length; i++) { // outcome=count, since runs are counted by outcome
                        int eq = p[i].indexOf('=');
                        Outcome o = eq < 0 ? null : Outcome.ofKey(p[i].substring(0, eq));
                        if (o != null) {
                            metrics.groupOutcome(g, o, Long.parseLong(p[i].substring(eq + 1)));
                        }
                    }
                } catch (RuntimeException bad) {
                    log.warn("skipping a line of {} that does not parse", file);
                }
            }
        } catch (IOException e) {
            log.warn("could not read {}: {}; counting from zero", file, e.toString());
        }
    }

    /** Writes the current counts (after a pod finished). */
    synchronized void save(AgentMetrics metrics) {
        List<String> lines = new ArrayList<>();
        for (Map.Entry<GroupId, long[]> e : metrics.groupActivity().entrySet()) {
            StringBuilder line = new StringBuilder(e.getKey().text() + " " + e.getValue()[0] + " " + e.getValue()[1]);
            metrics.groupCounts(e.getKey())
                    .runs()
                    .forEach((o, n) ->
                            line.append(' ').append(o.key()).append('=').append(n));
            lines.add(line.toString());
        }
        Path tmp = file.resolveSibling(NodeRoot.ACTIVITY_TMP);
        try {
            Files.write(tmp, lines, StandardCharsets.UTF_8);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            log.warn("could not save {}: {}", file, e.toString());
        }
    }
}
