package io.mithril.agent.cli;

import io.mithril.agent.exec.DeviceProbe;
import io.mithril.agent.exec.ExecListener;
import io.mithril.agent.exec.ExecRunner;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;

/**
 * A standalone {@code serve}'s side of {@code exec} through a resident agent: parses the client's
 * command line as {@code exec} would, with the client's environment and working folder, and runs it
 * on this agent's open store; the command itself runs in the client. What would make the run differ
 * from the client's own {@code exec} is declined, and the client then runs {@code exec} itself:
 * another root, a budget or free-space reserve other than this agent's, a remote tier (its fill and
 * upload are per run), help, or a line {@code exec} would reject (so its error reads as always).
 */
final class ResidentExec implements ExecListener.Handler {

    private final NodeStore store;
    private final Path root;
    private final AgentMain.StoreSpec own;
    /** nvidia-smi's answers by its path: the device does not change under a running agent. */
    private final Map<String, DeviceProbe.Device> devices = new ConcurrentHashMap<>();

    private final Map<String, String> drivers = new ConcurrentHashMap<>();

    private final AgentMetrics metrics;

    ResidentExec(NodeStore store, AgentMain.StoreSpec own, AgentMetrics metrics) throws IOException {
        this.store = store;
        this.metrics = metrics;
        this.root = store.root().toRealPath();
        this.own = own;
    }

    /** A parser made ahead, off the requests' path: picocli builds its model by reflection, 5-20 ms. */
    private final AtomicReference<Parser> ready = new AtomicReference<>();

    private final ExecutorService preparer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "mithril-exec-parser");
        t.setDaemon(true);
        return t;
    });

    /** {@code exec}'s command line, parsed into {@code exec} (its options) and {@code main} (the agent's). */
    private record Parser(AgentMain main, ExecCmd exec, CommandLine cl) {
        static Parser make() {
            AgentMain main = new AgentMain(OutputStream.nullOutputStream(), Map.of(), Path.of(""));
            ExecCmd exec = new ExecCmd();
            CommandLine cl = new CommandLine(main);
            cl.addSubcommand("exec", exec);
            return new Parser(main, exec, cl);
        }
    }

    /** One parser per request (its objects hold the request's options), the next one made meanwhile. */
    private Parser parser() {
        Parser p = ready.getAndSet(null);
        try {
            preparer.execute(() -> ready.compareAndSet(null, Parser.make()));
        } catch (RejectedExecutionException closing) {
            // made here, then
        }
        return p != null ? p : Parser.make();
    }

    @Override
    public void close() {
        preparer.shutdownNow();
    }

    @Override
    public void handle(ExecListener.Session s) throws Exception {
        Parser p = parser();
        AgentMain main = p.main();
        ExecCmd exec = p.exec();
        CommandLine cl = p.cl();
        main.useClient(s.env(), s.cwd());
        cl.setErr(s.err());
        CommandLine.ParseResult parsed;
        try {
            parsed = cl.parseArgs(s.argv().toArray(new String[0]));
        } catch (CommandLine.ParameterException e) {
            decline(s, "exec reports its own usage errors");
            return;
        }
        CommandLine.ParseResult sub = parsed.subcommand();
        if (sub == null || !"exec".equals(sub.commandSpec().name()) || helpAsked(parsed) || helpAsked(sub)) {
            decline(s, "not a plain exec");
            return;
        }
        String why = mismatch(main, exec);
        if (why != null) {
            decline(s, why);
            return;
        }
        exec.deviceProbe = smi -> devices.computeIfAbsent(smi, DeviceProbe::detect);
        exec.driverProbe = smi -> {
            String v = drivers.computeIfAbsent(smi, k -> Objects.requireNonNullElse(DeviceProbe.driverVersion(k), ""));
            return v.isEmpty() ? null : v;
        };
        GroupId group;
        Set<Framework> frameworks;
        try {
            group = exec.group();
            frameworks = Framework.parseList(exec.frameworks());
        } catch (RuntimeException e) {
            fail(s, AgentMain.exitCode(e), "mithril-agent: " + AgentMain.message(e));
            return;
        }
        ExecRunner.Result r;
        try {
            r = exec.run(store, null, s.err(), s.child(), group, frameworks);
        } catch (ExecRunner.CallerGoneException gone) {
            metrics.execRequest(AgentMetrics.ExecRequest.GONE);
            throw gone;
        } catch (IllegalArgumentException | IOException e) {
            fail(s, AgentMain.exitCode(e), "mithril-agent: " + AgentMain.message(e));
            return;
        }
        // counted as a pod's run is, for /v1/stats and /metrics: the run is over whatever the client does now
        metrics.groupActivity(group, r.read(), r.ingested());
        metrics.groupOutcome(group, r.why().outcome(), 1);
        // served: the run is whole, even if the client goes now; counted before the client hears of it,
        // so that whoever watches the client's exit finds the count
        metrics.execRequest(AgentMetrics.ExecRequest.SERVED);
        try {
            s.done(r.exitCode());
        } catch (IOException gone) { // killed after its command ended: the run is complete all the same
            throw new ExecRunner.CallerGoneException("the exec client went away before the end of its run", gone);
        }
    }

    private void decline(ExecListener.Session s, String why) throws IOException {
        metrics.execRequest(AgentMetrics.ExecRequest.DECLINED);
        s.decline(why);
    }

    private void fail(ExecListener.Session s, int code, String message) {
        metrics.execRequest(AgentMetrics.ExecRequest.FAILED);
        s.fail(code, message);
    }

    private static boolean helpAsked(CommandLine.ParseResult r) {
        return r.isUsageHelpRequested() || r.isVersionHelpRequested();
    }

    /** Why this agent's run would differ from the client's own {@code exec}; null when it would not. */
    private String mismatch(AgentMain main, ExecCmd exec) {
        AgentMain.StoreSpec theirs;
        try {
            theirs = main.storeSpec(exec.local);
            if (!Files.isDirectory(theirs.root()) || !theirs.root().toRealPath().equals(root)) {
                return "another root";
            }
        } catch (IOException | IllegalArgumentException e) {
            return "exec reports its own errors in the store's options";
        }
        if (theirs.budget() != null && !theirs.budget().equals(own.budget())) {
            return "another budget";
        }
        if (theirs.reserve() != null && !theirs.reserve().equals(own.reserve())) {
            return "another free-space reserve";
        }
        try {
            if (main.remoteConfig(exec.remote) != null) {
                return "a remote tier is named";
            }
        } catch (IOException | IllegalArgumentException e) {
            return "a remote tier is named";
        }
        return null;
    }
}
