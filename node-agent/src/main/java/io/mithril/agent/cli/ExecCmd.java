package io.mithril.agent.cli;

import io.mithril.agent.exec.DeviceProbe;
import io.mithril.agent.exec.ExecRunner;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.RemoteConfig;
import io.mithril.agent.store.NodeStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "exec",
        description = {
            "Run a command with its compile caches served from the store: publish a view of this machine's group,",
            "point the cache variables into it, ingest what the command compiled, and return its exit code."
        })
final class ExecCmd implements Callable<Integer> {

    @CommandLine.ParentCommand
    AgentMain main;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    AgentMain.StoreOptions local = new AgentMain.StoreOptions();

    @CommandLine.Mixin
    AgentMain.RemoteOptions remote = new AgentMain.RemoteOptions();

    @Option(
            names = "--remote-fetch-deadline",
            defaultValue = "${env:MITHRIL_REMOTE_FETCH_DEADLINE:-20}",
            paramLabel = "SECONDS",
            description = {
                "With --remote: the longest the command waits for entries from the remote before it starts",
                "(with what is local by then). Env MITHRIL_REMOTE_FETCH_DEADLINE; default ${DEFAULT-VALUE}."
            })
    long fetchDeadline;

    @Option(
            names = "--remote-upload-limit",
            defaultValue = "${env:MITHRIL_REMOTE_UPLOAD_LIMIT:-60}",
            paramLabel = "SECONDS",
            description = {
                "With --remote: the longest exec spends uploading after the command exits 0; what is left is",
                "uploaded by the next exec on this root. Env MITHRIL_REMOTE_UPLOAD_LIMIT; default ${DEFAULT-VALUE}."
            })
    long uploadLimit;

    @Option(
            names = "--cache",
            paramLabel = "NAME",
            description = "Cache name (a DNS label). Env MITHRIL_CACHE; default default.")
    String cache;

    @Option(
            names = "--namespace",
            defaultValue = "local",
            paramLabel = "NS",
            description = "Namespace part of the group; default ${DEFAULT-VALUE}.")
    String namespace;

    @Option(
            names = "--frameworks",
            paramLabel = "LIST",
            description = {
                "Caches to redirect: inductor, triton, vllm, sglang, flashinfer, cuda, or all; vllm and sglang",
                "bring inductor and triton. Env MITHRIL_FRAMEWORKS; default inductor,triton."
            })
    String frameworks;

    @Option(
            names = "--cuda-driver",
            paramLabel = "VERSION",
            description = {
                "CUDA driver version whose JIT cache entries are served (cuda framework). Env MITHRIL_CUDA_DRIVER;",
                "default from nvidia-smi."
            })
    String cudaDriver;

    @Option(
            names = "--device",
            paramLabel = "CLASS",
            description = "Device class (cpu, cuda-any, cuda-9.0); default from nvidia-smi, else cpu.")
    String device;

    @Option(names = "--product", paramLabel = "NAME", description = "GPU product name; default from nvidia-smi.")
    String product;

    @Option(
            names = "--ingest-interval",
            defaultValue = "30",
            paramLabel = "SECONDS",
            description = "Seconds between ingest passes while the command runs; default ${DEFAULT-VALUE}.")
    long interval;

    @Option(
            names = "--max-file-size",
            defaultValue = "1GiB",
            paramLabel = "SIZE",
            converter = AgentMain.SizeConverter.class,
            description = "Larger files are not ingested; default ${DEFAULT-VALUE}.")
    long maxFile;

    @Parameters(paramLabel = "CMD", arity = "1..*", description = "The command and its arguments (after --).")
    List<String> command;

    /**
     * How the device is found ({@code nvidia-smi}'s path to it) and the CUDA driver's version: a
     * resident agent, which runs many execs, asks once ({@link ResidentExec}).
     */
    Function<String, DeviceProbe.Device> deviceProbe = DeviceProbe::detect;

    Function<String, String> driverProbe = DeviceProbe::driverVersion;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        GroupId group = group();
        Set<Framework> fws = Framework.parseList(frameworks());
        RemoteConfig remoteConfig = main.remoteConfigOrNone(remote, err);
        try (NodeStore store = main.openStore(local, true);
                RemoteRun rr = RemoteRun.open(remoteConfig, store, err)) {
            return run(store, rr, err, ExecRunner.LOCAL, group, fws).exitCode();
        }
    }

    /** The run on an open store, its command run by {@code child}; the command's exit status. */
    ExecRunner.Result run(
            NodeStore store, RemoteRun rr, PrintWriter err, ExecRunner.Child child, GroupId group, Set<Framework> fws)
            throws IOException, InterruptedException {
        String driver = cudaDriver != null ? cudaDriver : main.env.get("MITHRIL_CUDA_DRIVER");
        if (driver == null && fws.contains(Framework.CUDA)) {
            driver = driverProbe.apply(nvidiaSmi());
        }
        if (rr != null) {
            rr.fill(group, fws, Duration.ofSeconds(Math.max(0, fetchDeadline)));
        }
        ExecRunner.Result r = new ExecRunner(store, err, child)
                .run(new ExecRunner.Options(
                        group,
                        fws,
                        command,
                        Duration.ofSeconds(Math.max(1, interval)),
                        IngestLimits.defaults().withMaxFileBytes(maxFile),
                        main.env,
                        driver));
        err.println(r.summary());
        if (rr != null) {
            rr.afterRun(group, r.exitCode() == 0, Duration.ofSeconds(Math.max(0, uploadLimit)));
        }
        err.flush();
        return r;
    }

    String frameworks() {
        return frameworks != null ? frameworks : orDefault("MITHRIL_FRAMEWORKS", "inductor,triton");
    }

    private String nvidiaSmi() {
        return orDefault("MITHRIL_NVIDIA_SMI", "nvidia-smi");
    }

    private String orDefault(String variable, String fallback) {
        String v = main.env.get(variable);
        return v != null && !v.isEmpty() ? v : fallback;
    }

    GroupId group() {
        DeviceClass d;
        GpuProduct p;
        if (device != null) {
            d = DeviceClass.parse(device);
            p = product != null
                    ? GpuProduct.of(product)
                    : (d instanceof DeviceClass.Cpu
                            ? GpuProduct.NONE
                            : deviceProbe.apply("nvidia-smi").product());
        } else {
            DeviceProbe.Device probed = deviceProbe.apply(nvidiaSmi());
            d = probed.deviceClass();
            p = product != null ? GpuProduct.of(product) : probed.product();
        }
        return new GroupId(namespace, cache != null ? cache : orDefault("MITHRIL_CACHE", "default"), d, p);
    }
}
