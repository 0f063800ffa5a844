package io.mithril.agent.cli;

import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.remote.RemoteGc;
import io.mithril.agent.store.ByteSize;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mithril-agent remote gc}: remote retention, standalone (docs/remote.md, "Retention"). */
@Command(
        name = "remote",
        description = "The remote tier: retention.",
        subcommands = {RemoteCmd.Gc.class})
final class RemoteCmd {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(s|m|h|d)");

    @CommandLine.ParentCommand
    AgentMain main;

    @Command(
            name = "gc",
            description =
                    "Keep each remote group's most recently uploaded entries within the budget (compacting its "
                            + "manifests into one), then delete blobs and packs no manifest names that are older than the grace.")
    static final class Gc implements Callable<Integer> {
        @CommandLine.ParentCommand
        RemoteCmd parent;

        @CommandLine.Mixin
        AgentMain.RemoteOptions remote = new AgentMain.RemoteOptions();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--budget",
                required = true,
                paramLabel = "SIZE",
                converter = AgentMain.SizeConverter.class,
                description = "Remote budget per group, e.g. 20GiB.")
        long budget;

        @Option(
                names = "--grace",
                defaultValue = "1h",
                paramLabel = "DURATION",
                description =
                        "Unreferenced blobs and packs younger than this stay (an upload may be about to name them); default ${DEFAULT-VALUE}.")
        String grace;

        @Option(
                names = "--lease",
                defaultValue = "10m",
                paramLabel = "DURATION",
                description =
                        "How long the retention lock in the bucket holds if this process dies; default ${DEFAULT-VALUE}.")
        String lease;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            RemoteConfig c = parent.main.remoteConfig(remote);
            if (c == null) {
                spec.commandLine().getErr().println("mithril: remote gc needs --remote (or MITHRIL_REMOTE)");
                return AgentMain.BAD_INPUT;
            }
            try (Remote r = Remote.open(c)) {
                RemoteGc gc = r.gc();
                RemoteGc.Report rep = gc.collect(
                        budget,
                        duration(grace),
                        gc.bucketLock(ManagementFactory.getRuntimeMXBean().getName()),
                        duration(lease));
                if (!rep.ran()) {
                    out.println("another actor holds the retention lock; nothing done");
                    return AgentMain.ABSENT;
                }
                out.printf(
                        Locale.ROOT,
                        "%d groups: %d entries kept (%s), %d evicted; %d manifests read, %d deleted; "
                                + "%d unreferenced objects deleted (%s), %d within the grace; %d requests%n",
                        rep.groups(),
                        rep.entriesKept(),
                        ByteSize.format(rep.bytesKept()),
                        rep.entriesEvicted(),
                        rep.manifestsRead(),
                        rep.manifestsDeleted(),
                        rep.objectsDeleted(),
                        ByteSize.format(rep.bytesDeleted()),
                        rep.objectsInGrace(),
                        r.stats().requests());
                out.flush();
                return 0;
            }
        }
    }

    static Duration duration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("a duration like 90s, 30m, 1h or 2d is wanted, got " + text);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }
}
