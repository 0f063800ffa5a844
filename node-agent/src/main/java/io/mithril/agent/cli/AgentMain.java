package io.mithril.agent.cli;

import io.mithril.agent.cas.Address;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.store.ByteSize;
import io.mithril.agent.store.FreeSpaceReserve;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFullException;
import io.mithril.agent.store.StoreStats;
import io.mithril.agent.store.VerifyReport;
import io.mithril.api.v1alpha1.Sizes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mithril-agent}: the node agent's command line. Exit codes: 0 success; 1 absent (get) or
 * corruption found (verify); 2 bad input; 3 an I/O failure, including a full store.
 */
@Command(
        name = "mithril-agent",
        mixinStandardHelpOptions = true,
        scope = CommandLine.ScopeType.INHERIT,
        version = "mithril-agent 0.1.0",
        description = "Mithril node agent: a content-addressed cache of compiled GPU artifacts.")
public final class AgentMain {

    /**
     * The subcommands, in the order {@code --help} lists them. Added by {@link #run}, not by the
     * annotation: picocli builds a command's model by reflection when it is added, which was most of
     * {@code exec}'s start-up (docs/benchmarks.md), so a command line that names one gets only that one.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = commands();

    private static Map<String, Supplier<Object>> commands() {
        Map<String, Supplier<Object>> m = new LinkedHashMap<>();
        m.put("exec", ExecCmd::new);
        m.put("serve", ServeCmd::new);
        m.put("store", StoreCmd::new);
        m.put("stats", StatsCmd::new);
        m.put("verify", VerifyCmd::new);
        m.put("gc", GcCmd::new);
        m.put("remote", RemoteCmd::new);
        return m;
    }

    static final int ABSENT = 1;
    static final int BAD_INPUT = 2;
    static final int IO_FAILURE = 3;

    /** The group raw blobs put from the command line belong to, so that every byte is in an entry. */
    static final GroupId CLI_GROUP = new GroupId("local", "cli", new DeviceClass.Cpu(), GpuProduct.NONE);

    /**
     * Where the store is: accepted before the command ({@code mithril-agent --root X exec ...}) and
     * after it ({@code mithril-agent exec --root X ...}); given in both places, the later one wins.
     */
    static class RootOption {
        @Option(
                names = "--root",
                paramLabel = "DIR",
                description =
                        "Store root. Env MITHRIL_ROOT; default $XDG_CACHE_HOME/mithril or ~/.cache/mithril (created if missing).")
        Path root;
    }

    /** {@link RootOption} and the store's budget, for every command but {@code gc} (whose --budget is its target). */
    static class StoreOptions extends RootOption {
        @Option(
                names = "--budget",
                paramLabel = "SIZE",
                converter = SizeConverter.class,
                description =
                        "Hard size limit of the store (e.g. 50Gi, 512MiB). Env MITHRIL_BUDGET; default unlimited.")
        Long budget;
    }

    /**
     * The remote tier (docs/remote.md): accepted before and after the command, like {@link RootOption};
     * without {@code --remote} (or MITHRIL_REMOTE) the agent is node-local.
     */
    static class RemoteOptions {
        @Option(
                names = "--remote",
                paramLabel = "s3://BUCKET/PREFIX",
                description =
                        "Remote tier on S3-compatible storage, shared by every machine of a device class. Env MITHRIL_REMOTE.")
        String remote;

        @Option(
                names = "--remote-endpoint",
                paramLabel = "URL",
                description =
                        "S3 endpoint other than AWS's (MinIO, Ceph RGW, GCS): path-style addressing. Env MITHRIL_REMOTE_ENDPOINT.")
        String endpoint;

        @Option(
                names = "--remote-key-file",
                paramLabel = "FILE",
                description =
                        "The key every agent of the remote shares (at least 16 bytes): manifests are signed with it and "
                                + "unsigned ones ignored. Env MITHRIL_REMOTE_KEY_FILE.")
        Path keyFile;

        @Option(
                names = "--remote-checksums",
                paramLabel = "when-supported|when-required",
                description =
                        "The SDK's request and response checksums; when-required for stores that reject the default "
                                + "trailing checksums. Env MITHRIL_REMOTE_CHECKSUMS; default when-supported.")
        String checksums;

        @Option(
                names = "--remote-upload-bandwidth",
                paramLabel = "SIZE",
                converter = SizeConverter.class,
                description =
                        "Upload bandwidth to the remote in bytes per second (e.g. 20Mi), for all uploads of the agent. "
                                + "Env MITHRIL_REMOTE_UPLOAD_BANDWIDTH; default unlimited.")
        Long uploadBandwidth;

        @Option(
                names = "--remote-upload-concurrency",
                paramLabel = "N",
                description = "PUTs to the remote in flight at once. Env MITHRIL_REMOTE_UPLOAD_CONCURRENCY; default 4.")
        Integer uploadConcurrency;
    }

    @CommandLine.Mixin
    StoreOptions global = new StoreOptions();

    @CommandLine.Mixin
    RemoteOptions globalRemote = new RemoteOptions();

    @Option(
            names = "--min-free",
            paramLabel = "SIZE|PERCENT",
            converter = ReserveConverter.class,
            description =
                    "Free space to leave on the store's filesystem (e.g. 15%, 20Gi): the store's limit drops to keep it, "
                            + "evicting first. Env MITHRIL_MIN_FREE; default none.")
    FreeSpaceReserve minFree;

    /** Where binary output ({@code store get}) goes; the text writers are picocli's. */
    private final OutputStream rawOut;

    /**
     * The environment the options' defaults come from: this process's, or an {@code exec} client's
     * when a resident agent parses the client's command line ({@link ResidentExec}).
     */
    Map<String, String> env;

    /** What relative paths are relative to: this process's working folder, or the client's. */
    private Path cwd;

    AgentMain(OutputStream rawOut) {
        this(rawOut, System.getenv(), Path.of(""));
    }

    AgentMain(OutputStream rawOut, Map<String, String> env, Path cwd) {
        this.rawOut = rawOut;
        this.env = env;
        this.cwd = cwd;
    }

    /** Takes the options' defaults from {@code env} and resolves relative paths against {@code cwd} from now on. */
    void useClient(Map<String, String> env, Path cwd) {
        this.env = env;
        this.cwd = cwd;
    }

    public static void main(String[] args) {
        System.setProperty(
                "org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        // TCP_NODELAY for the JDK HTTP server of `serve` (see docs/benchmarks.md, Operator: the webhook's 45 ms stall)
        System.setProperty("sun.net.httpserver.nodelay", System.getProperty("sun.net.httpserver.nodelay", "true"));
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the CLI and returns its exit code; {@code main} is the only caller of {@code System.exit}. */
    public static int run(String[] args, OutputStream out, OutputStream err) {
        CommandLine cl = new CommandLine(new AgentMain(out));
        String named = commandNamed(cl.getCommandSpec(), args);
        COMMANDS.forEach((name, make) -> {
            if (named == null || named.equals(name)) {
                cl.addSubcommand(name, make.get());
            }
        });
        PrintWriter errWriter = new PrintWriter(err, true);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(errWriter);
        cl.setExitCodeExceptionMapper(AgentMain::exitCode);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("mithril-agent: " + message(ex));
            return exitCode(ex);
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("mithril-agent: " + ex.getMessage());
            ex.getCommandLine().getErr().println("(see 'mithril-agent --help')");
            return BAD_INPUT;
        });
        return cl.execute(args);
    }

    /**
     * The subcommand {@code args} name: the first argument that is neither one of the top command's
     * options nor the value of one. Null when it names none of {@link #COMMANDS} (then all are added,
     * so that help and errors read as always).
     */
    static String commandNamed(CommandLine.Model.CommandSpec top, String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                return null;
            }
            if (!a.startsWith("-")) {
                return COMMANDS.containsKey(a) ? a : null;
            }
            CommandLine.Model.OptionSpec o = top.findOption(a.contains("=") ? a.substring(0, a.indexOf('=')) : a);
            if (o == null) {
                return null;
            }
            if (!a.contains("=") && o.arity().max() > 0) {
                i++; // its value
            }
        }
        return null;
    }

    static int exitCode(Throwable ex) {
        if (ex instanceof IllegalArgumentException
                || ex instanceof CommandLine.ParameterException
                || ex instanceof NoSuchFileException
                || ex instanceof AccessDeniedException) {
            return BAD_INPUT;
        }
        return IO_FAILURE;
    }

    static String message(Throwable ex) {
        if (ex instanceof NoSuchFileException n) {
            return (n.getReason() == null ? "no such file" : n.getReason()) + ": " + n.getFile();
        }
        if (ex instanceof AccessDeniedException a) {
            return (a.getReason() == null ? "permission denied" : a.getReason()) + ": " + a.getFile();
        }
        if (ex instanceof StoreFullException) {
            return ex.getMessage();
        }
        String m = ex.getMessage();
        return m == null ? ex.getClass().getSimpleName() : m;
    }

    /**
     * The store the options name: its root and the budget and free-space reserve they (or the
     * environment) set, null where they set none.
     */
    record StoreSpec(Path root, Long budget, FreeSpaceReserve reserve) {
        StoreConfig config(boolean reconcile) {
            StoreConfig cfg = StoreConfig.defaults().withReconcileOnOpen(reconcile);
            if (budget != null) {
                cfg = cfg.withBudget(budget);
            }
            return reserve != null ? cfg.withFreeSpaceReserve(reserve) : cfg;
        }
    }

    /** {@link StoreSpec} of the options: {@code local} (given after the command) over those before it. */
    StoreSpec storeSpec(RootOption local) throws IOException {
        Path r = local.root != null ? local.root : global.root;
        if (r == null && env.get("MITHRIL_ROOT") != null) {
            r = Path.of(env.get("MITHRIL_ROOT"));
        }
        if (r == null) {
            String xdg = env.get("XDG_CACHE_HOME");
            r = (xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache"))
                    .resolve("mithril");
            Files.createDirectories(cwd.resolve(r));
        }
        Long b = local instanceof StoreOptions o && o.budget != null ? o.budget : global.budget;
        if (b == null && env.get("MITHRIL_BUDGET") != null) {
            b = Sizes.parse(env.get("MITHRIL_BUDGET"));
        }
        FreeSpaceReserve reserve = minFree;
        if (reserve == null && env.get("MITHRIL_MIN_FREE") != null) {
            reserve = FreeSpaceReserve.parse(env.get("MITHRIL_MIN_FREE"));
        }
        return new StoreSpec(cwd.resolve(r), b, reserve);
    }

    /** Opens the store the options name ({@link #storeSpec}). */
    NodeStore openStore(RootOption local, boolean reconcile) throws IOException {
        StoreSpec s = storeSpec(local);
        return NodeStore.open(s.root(), s.config(reconcile));
    }

    /**
     * The remote the options name ({@code local}, given after the command, over those before it, over
     * the environment), or null when none is named. A remote named without a usable key is an error
     * the caller reports and runs without.
     */
    RemoteConfig remoteConfig(RemoteOptions local) throws IOException {
        String url = pick(local.remote, globalRemote.remote, "MITHRIL_REMOTE");
        if (url == null || url.isEmpty()) {
            return null;
        }
        String endpoint = pick(local.endpoint, globalRemote.endpoint, "MITHRIL_REMOTE_ENDPOINT");
        Path keyFile = local.keyFile != null ? local.keyFile : globalRemote.keyFile;
        if (keyFile == null && env.get("MITHRIL_REMOTE_KEY_FILE") != null) {
            keyFile = Path.of(env.get("MITHRIL_REMOTE_KEY_FILE"));
        }
        if (keyFile == null) {
            throw new IllegalArgumentException(
                    "--remote needs --remote-key-file (or MITHRIL_REMOTE_KEY_FILE): manifests are signed");
        }
        String checksums = pick(local.checksums, globalRemote.checksums, "MITHRIL_REMOTE_CHECKSUMS");
        if (checksums != null && !checksums.equals("when-supported") && !checksums.equals("when-required")) {
            throw new IllegalArgumentException(
                    "--remote-checksums must be when-supported or when-required: " + checksums);
        }
        Long bandwidth = local.uploadBandwidth != null ? local.uploadBandwidth : globalRemote.uploadBandwidth;
        if (bandwidth == null && env.get("MITHRIL_REMOTE_UPLOAD_BANDWIDTH") != null) {
            bandwidth = Sizes.parse(env.get("MITHRIL_REMOTE_UPLOAD_BANDWIDTH"));
        }
        Integer concurrency =
                local.uploadConcurrency != null ? local.uploadConcurrency : globalRemote.uploadConcurrency;
        if (concurrency == null && env.get("MITHRIL_REMOTE_UPLOAD_CONCURRENCY") != null) {
            concurrency = Integer.parseInt(
                    env.get("MITHRIL_REMOTE_UPLOAD_CONCURRENCY").trim());
        }
        RemoteConfig c = RemoteConfig.of(
                        url,
                        endpoint == null || endpoint.isEmpty() ? null : URI.create(endpoint),
                        RemoteConfig.readKey(keyFile))
                .withChecksumsWhenRequired("when-required".equals(checksums));
        return c.withLimits(c.limits()
                .withUpload(
                        bandwidth != null ? bandwidth : c.limits().uploadBytesPerSecond(),
                        concurrency != null ? concurrency : c.limits().uploadConcurrency()));
    }

    /** {@link #remoteConfig}, or null with one line on {@code err} when the remote is named but unusable: a cache never keeps a command from running. */
    RemoteConfig remoteConfigOrNone(RemoteOptions local, PrintWriter err) {
        try {
            return remoteConfig(local);
        } catch (IOException | IllegalArgumentException e) {
            err.println("mithril: remote not used: " + message(e));
            return null;
        }
    }

    private String pick(String local, String global, String variable) {
        return local != null ? local : global != null ? global : env.get(variable);
    }

    static final class ReserveConverter implements CommandLine.ITypeConverter<FreeSpaceReserve> {
        @Override
        public FreeSpaceReserve convert(String value) {
            try {
                return FreeSpaceReserve.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return Sizes.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    @Command(
            name = "store",
            description = "Put and get blobs by address.",
            subcommands = {StorePut.class, StoreGet.class})
    static final class StoreCmd {}

    @Command(name = "put", description = "Store a file; prints its BLAKE3 address (as b3sum would).")
    static final class StorePut implements Callable<Integer> {
        @CommandLine.ParentCommand
        StoreCmd parent;

        @CommandLine.Mixin
        StoreOptions local = new StoreOptions();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "A regular file ('-' for standard input).")
        String file;

        @Override
        public Integer call() throws IOException {
            AgentMain main = (AgentMain) spec.parent().parent().userObject();
            try (NodeStore store = main.openStore(local, true)) {
                NodeStore.Stored w;
                if (file.equals("-")) {
                    w = store.put(System.in, -1);
                } else {
                    Path p = Path.of(file);
                    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        throw new IllegalArgumentException("not a regular file: " + file);
                    }
                    w = store.putFile(p);
                }
                store.commit(
                        new EntryKey(CLI_GROUP, "blobs/" + w.address().hex()),
                        List.of(new EntryFile("blob", w.address(), w.size(), false)),
                        "cli put " + file);
                spec.commandLine().getOut().println(w.address().hex());
            }
            return 0;
        }
    }

    @Command(name = "get", description = "Write a blob's bytes to standard output; exit 1 if absent.")
    static final class StoreGet implements Callable<Integer> {
        @CommandLine.Mixin
        StoreOptions local = new StoreOptions();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "ADDRESS", description = "64 lowercase hex digits.")
        String address;

        @Override
        public Integer call() throws IOException {
            Address a = Address.parse(address);
            AgentMain main = (AgentMain) spec.parent().parent().userObject();
            try (NodeStore store = main.openStore(local, false);
                    InputStream in = store.open(a)) {
                if (in == null) {
                    spec.commandLine().getErr().println("mithril-agent: not in the store: " + address);
                    return ABSENT;
                }
                in.transferTo(main.rawOut);
                main.rawOut.flush();
            }
            return 0;
        }
    }

    @Command(name = "stats", description = "Entries, blobs, bytes and budget, per group.")
    static final class StatsCmd implements Callable<Integer> {
        @CommandLine.ParentCommand
        AgentMain main;

        @CommandLine.Mixin
        StoreOptions local = new StoreOptions();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--json", description = "Machine-readable output.")
        boolean json;

        @Override
        public Integer call() throws IOException {
            StoreStats s;
            try (NodeStore store = main.openStore(local, false)) {
                s = store.stats();
                PrintWriter out = spec.commandLine().getOut();
                out.print(json ? StatsFormat.json(store.root(), s) : StatsFormat.text(store.root(), s));
                out.flush();
            }
            return 0;
        }
    }

    @Command(
            name = "verify",
            description =
                    "Re-hash every blob; quarantine any that do not match, restore the mode and owner of any that changed. Exit 1 on corruption.")
    static final class VerifyCmd implements Callable<Integer> {
        @CommandLine.ParentCommand
        AgentMain main;

        @CommandLine.Mixin
        StoreOptions local = new StoreOptions();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            try (NodeStore store = main.openStore(local, true)) {
                VerifyReport r = store.verify();
                PrintWriter out = spec.commandLine().getOut();
                out.printf(
                        Locale.ROOT,
                        "checked %d blobs (%s): %d corrupt, %d entries dropped, %d stray files, %d orphans removed,"
                                + " %d repaired (mode or owner)%n",
                        r.blobsChecked(),
                        ByteSize.format(r.bytesChecked()),
                        r.corrupt().size(),
                        r.droppedEntries().size(),
                        r.stray().size(),
                        r.orphansRemoved(),
                        r.repaired().size());
                for (Address a : r.corrupt()) {
                    out.println("corrupt blob quarantined: " + a);
                }
                for (Address a : r.repaired()) {
                    out.println("blob mode or owner repaired: " + a);
                }
                for (EntryKey k : r.droppedEntries()) {
                    out.println("entry dropped: " + k);
                }
                out.flush();
                return r.clean() ? 0 : ABSENT;
            }
        }
    }

    @Command(name = "gc", description = "Evict least recently used entries until the store fits the budget.")
    static final class GcCmd implements Callable<Integer> {
        @CommandLine.ParentCommand
        AgentMain main;

        @CommandLine.Mixin
        RootOption local = new RootOption();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(
                names = "--budget",
                required = true,
                paramLabel = "SIZE",
                converter = SizeConverter.class,
                description = "Target size, e.g. 10GiB.")
        long target;

        @Override
        public Integer call() throws IOException {
            try (NodeStore store = main.openStore(local, true)) {
                long before = store.stats().bytes();
                List<NodeStore.Evicted> removed = store.evictTo(target);
                long after = store.stats().bytes();
                spec.commandLine()
                        .getOut()
                        .printf(
                                Locale.ROOT,
                                "evicted %d entries, %s -> %s (target %s)%n",
                                removed.size(),
                                ByteSize.format(before),
                                ByteSize.format(after),
                                ByteSize.format(target));
                return 0;
            }
        }
    }
}
