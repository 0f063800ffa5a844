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
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
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
            defaultValue = "${env:MITHRIL_CACHE:-default}",
            paramLabel = "NAME",
            description = "Cache name (a DNS label). Env MITHRIL_CACHE; default ${DEFAULT-VALUE}.")
    String cache;

    @Option(
            names = "--namespace",
            defaultValue = "local",
            paramLabel = "NS",
            description = "Namespace part of the group; default ${DEFAULT-VALUE}.")
    String namespace;

    @Option(
            names = "--frameworks",
            defaultValue = "${env:MITHRIL_FRAMEWORKS:-inductor,triton}",
            paramLabel = "LIST",
            description = {
                "Caches to redirect: inductor, triton, vllm, sglang, flashinfer, cuda, or all; vllm and sglang",
                "bring inductor and triton. Env MITHRIL_FRAMEWORKS; default ${DEFAULT-VALUE}."
            })
    String frameworks;

    @Option(
            names = "--cuda-driver",
            defaultValue = "${env:MITHRIL_CUDA_DRIVER}",
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

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        GroupId group = group();
        Set<Framework> fws = Framework.parseList(frameworks);
        RemoteConfig remoteConfig = main.remoteConfigOrNone(remote, err);
        try (NodeStore store = main.openStore(local, true);
                RemoteRun rr = RemoteRun.open(remoteConfig, store, err)) {
            String driver = cudaDriver;
            if (driver == null && fws.contains(Framework.CUDA)) {
                driver = DeviceProbe.driverVersion(System.getenv().getOrDefault("MITHRIL_NVIDIA_SMI", "nvidia-smi"));
            }
            if (rr != null) {
                rr.fill(group, fws, Duration.ofSeconds(Math.max(0, fetchDeadline)));
            }
            ExecRunner.Result r = new ExecRunner(store, err)
                    .run(new ExecRunner.Options(
                            group,
                            fws,
                            command,
                            Duration.ofSeconds(Math.max(1, interval)),
                            IngestLimits.defaults().withMaxFileBytes(maxFile),
                            System.getenv(),
                            driver));
            err.println(r.summary());
            if (rr != null) {
                rr.afterRun(group, r.exitCode() == 0, Duration.ofSeconds(Math.max(0, uploadLimit)));
            }
            err.flush();
            return r.exitCode();
        }
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
                            : DeviceProbe.detect("nvidia-smi").product());
        } else {
            DeviceProbe.Device probed =
                    DeviceProbe.detect(System.getenv().getOrDefault("MITHRIL_NVIDIA_SMI", "nvidia-smi"));
            d = probed.deviceClass();
            p = product != null ? GpuProduct.of(product) : probed.product();
        }
        return new GroupId(namespace, cache, d, p);
    }
}
