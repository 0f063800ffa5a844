package io.mithril.operator;

import com.github.benmanes.caffeine.cache.Ticker;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.mithril.operator.agents.AgentDirectory;
import io.mithril.operator.certs.CertificateManager;
import io.mithril.operator.certs.FileTlsSource;
import io.mithril.operator.certs.TlsMaterial;
import io.mithril.operator.certs.TlsSource;
import io.mithril.operator.metrics.OperatorMetrics;
import io.mithril.operator.reconciler.CompileCacheReconciler;
import io.mithril.operator.reconciler.Events;
import io.mithril.operator.uninstall.UninstallCleanup;
import io.mithril.operator.webhook.InformerCacheLookup;
import io.mithril.operator.webhook.InformerNamespaceLookup;
import io.mithril.operator.webhook.Injection;
import io.mithril.operator.webhook.KubeConfigMapLookup;
import io.mithril.operator.webhook.PodMutator;
import io.mithril.operator.webhook.PodSecurity;
import io.mithril.operator.webhook.VolumeMode;
import io.mithril.operator.webhook.WaitStep;
import io.mithril.operator.webhook.WebhookServer;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The operator process: the pod webhook (served by every replica), the CompileCache reconciler
 * (run by the elected leader only), and the webhook's certificate upkeep. Settings are parsed once
 * here, each as flag, environment variable and default on one line.
 */
@Command(
        name = "mithril-operator",
        mixinStandardHelpOptions = true,
        version = "mithril-operator 0.1.0",
        description = "Reconciles CompileCaches and injects the node compile cache into annotated pods.",
        subcommands = UninstallCleanup.class)
public final class OperatorMain implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(OperatorMain.class);

    @Option(
            names = "--namespace",
            defaultValue = "${env:POD_NAMESPACE:-mithril-system}",
            description = "The operator's namespace (its Secret, lease and the agents' pods).")
    String namespace;

    @Option(
            names = "--listen",
            defaultValue = "${env:MITHRIL_WEBHOOK_LISTEN:-0.0.0.0:8443}",
            description = "HTTPS address of the webhook; default ${DEFAULT-VALUE}.")
    String listen;

    @Option(
            names = "--service",
            defaultValue = "${env:MITHRIL_WEBHOOK_SERVICE:-mithril-webhook}",
            description = "The webhook's Service (names in its certificate).")
    String service;

    @Option(
            names = "--webhook-config",
            defaultValue = "${env:MITHRIL_WEBHOOK_CONFIG:-mithril}",
            description = "The MutatingWebhookConfiguration whose caBundle is kept current.")
    String webhookConfig;

    @Option(
            names = "--tls-dir",
            defaultValue = "${env:MITHRIL_TLS_DIR}",
            description = "Read tls.crt/tls.key from here (cert-manager) instead of keeping an own CA in a Secret.")
    Path tlsDir;

    @Option(
            names = "--agent-selector",
            defaultValue = "${env:MITHRIL_AGENT_SELECTOR:-app.kubernetes.io/component=node-agent}",
            description = "Label selector of the node agents' pods in --namespace.")
    String agentSelector;

    @Option(
            names = "--agent-port",
            defaultValue = "${env:MITHRIL_AGENT_PORT:-9464}",
            description = "The agents' HTTP port when their pod names no port 'http'.")
    int agentPort;

    @Option(
            names = "--stats-ttl",
            defaultValue = "${env:MITHRIL_STATS_TTL_SECONDS:-15}",
            description = "Seconds an agent's report is reused across reconciles.")
    int statsTtl;

    @Option(
            names = "--resync",
            defaultValue = "${env:MITHRIL_RESYNC_SECONDS:-30}",
            description = "Seconds between status refreshes of each CompileCache.")
    int resync;

    @Option(
            names = "--leader-election",
            arity = "1",
            paramLabel = "true|false",
            defaultValue = "${env:MITHRIL_LEADER_ELECTION:-true}",
            description = "Elect one reconciling replica through a Lease.")
    boolean leaderElection;

    @Option(
            names = "--identity",
            defaultValue = "${env:POD_NAME:-${env:HOSTNAME:-mithril-operator}}",
            description = "This replica's name in the leader Lease.")
    String identity;

    @Option(
            names = "--server-side-apply",
            arity = "1",
            paramLabel = "true|false",
            defaultValue = "${env:MITHRIL_SERVER_SIDE_APPLY:-true}",
            description = "Write status by server-side apply. Turn off only for a test API server without it.")
    boolean serverSideApply;

    @Option(
            names = "--wait-image",
            defaultValue = "${env:MITHRIL_WAIT_IMAGE:-busybox:1.36}",
            description = "Image of the injected wait step (needs sh, sleep, ln).")
    String waitImage;

    @Option(
            names = "--volume-mode",
            defaultValue = "${env:MITHRIL_VOLUME_MODE:-HostPath}",
            description =
                    "How pods get their view: HostPath (a hostPath beside the canonical path) or EmptyDir (the agent fills the pod's emptyDir; no hostPath in user pods).")
    VolumeMode volumeMode;

    @Option(
            names = "--wait-requests",
            defaultValue = "${env:MITHRIL_WAIT_REQUESTS:-cpu=10m,memory=16Mi}",
            description =
                    "Requests of the wait step in a Burstable pod (cpu=..,memory=..); capped at what the pod's containers ask for.")
    String waitRequests;

    @Option(
            names = "--wait-limits",
            defaultValue = "${env:MITHRIL_WAIT_LIMITS:-cpu=100m,memory=32Mi}",
            description =
                    "Limits of the wait step in a Burstable pod; in a Guaranteed pod its requests and limits. A BestEffort pod's wait step gets none.")
    String waitLimits;

    @Option(
            names = "--wait-run-as-user",
            defaultValue = "${env:MITHRIL_WAIT_RUN_AS_USER:-65534}",
            description =
                    "uid of the wait step when neither the pod nor its container names one; empty: the image's own user.")
    String waitRunAsUser;

    @Option(
            names = "--wait-pull-secrets",
            defaultValue = "${env:MITHRIL_WAIT_PULL_SECRETS:-}",
            description = "Secrets (comma-separated) added to injected pods' imagePullSecrets for the wait image.")
    String waitPullSecrets;

    @Option(
            names = "--pod-security-default",
            defaultValue = "${env:MITHRIL_POD_SECURITY_DEFAULT:-privileged}",
            description =
                    "Pod Security level of namespaces without the pod-security.kubernetes.io/enforce label (the API server's default).")
    String podSecurityDefault;

    @Option(
            names = "--pod-security-fallback",
            defaultValue = "${env:MITHRIL_POD_SECURITY_FALLBACK:-EmptyDir}",
            description =
                    "In HostPath mode, for namespaces whose level forbids hostPath: EmptyDir (inject in EmptyDir mode) or Skip (inject nothing, warn).")
    PodSecurity.Fallback podSecurityFallback;

    @Option(
            names = "--empty-dir-size-limit",
            defaultValue = "${env:MITHRIL_EMPTY_DIR_SIZE_LIMIT:-}",
            description =
                    "sizeLimit of the injected emptyDir in EmptyDir mode; empty: twice the CompileCache's budget.")
    String emptyDirSizeLimit;

    @Option(
            names = "--metrics-listen",
            defaultValue = "${env:MITHRIL_METRICS_LISTEN:-0.0.0.0:9090}",
            description = "Plain-HTTP address of /metrics (Prometheus); empty: none.")
    String metricsListen;

    @Option(
            names = "--host-path",
            defaultValue = "${env:MITHRIL_HOST_PATH:-/var/lib/mithril/volumes}",
            description = "The node folder of the pods' views (the agents' --volumes).")
    String hostPath;

    /**
     * The settings, once parsed. {@code lease}: null for no leader election. {@code serverSideApply}:
     * status written by server-side apply (always in a cluster; off only against fabric8's mock API
     * server, which answers it with 415).
     */
    public record Settings(
            String namespace,
            InetSocketAddress listen,
            String service,
            String webhookConfig,
            Path tlsDir,
            AgentDirectory.Config agents,
            Duration resync,
            Lease lease,
            Injection injection,
            boolean serverSideApply,
            InetSocketAddress metricsListen) {
        /** Without a metrics listener (tests, the end-to-end harness). */
        public Settings(
                String namespace,
                InetSocketAddress listen,
                String service,
                String webhookConfig,
                Path tlsDir,
                AgentDirectory.Config agents,
                Duration resync,
                Lease lease,
                Injection injection,
                boolean serverSideApply) {
            this(
                    namespace,
                    listen,
                    service,
                    webhookConfig,
                    tlsDir,
                    agents,
                    resync,
                    lease,
                    injection,
                    serverSideApply,
                    null);
        }
    }

    /**
     * Leader election through the Lease {@code mithril-operator}. {@code identity}: this replica
     * (the pod name); {@code exitOnLoss}: a replica that loses the lease exits and restarts as a
     * follower, rather than risk reconciling beside the new leader.
     */
    public record Lease(
            String identity, Duration duration, Duration renewDeadline, Duration retryPeriod, boolean exitOnLoss) {
        public static Lease defaults(String identity) {
            return new Lease(identity, Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2), true);
        }
    }

    static InetSocketAddress address(String flag, String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException(flag + " wants HOST:PORT, got " + hostPort);
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    Settings settings() {
        Injection d = Injection.defaults();
        return new Settings(
                namespace,
                address("--listen", listen),
                service,
                webhookConfig,
                tlsDir,
                new AgentDirectory.Config(
                        namespace, agentSelector, agentPort, Duration.ofSeconds(statsTtl), Duration.ofSeconds(2)),
                Duration.ofSeconds(resync),
                leaderElection ? Lease.defaults(identity) : null,
                injection(d),
                serverSideApply,
                metricsListen == null || metricsListen.isBlank() ? null : address("--metrics-listen", metricsListen));
    }

    private Injection injection(Injection d) {
        WaitStep wait = new WaitStep(
                quantities("--wait-requests", waitRequests),
                quantities("--wait-limits", waitLimits),
                waitRunAsUser == null || waitRunAsUser.isBlank() ? null : Long.valueOf(waitRunAsUser.trim()),
                waitPullSecrets == null || waitPullSecrets.isBlank()
                        ? List.of()
                        : Arrays.stream(waitPullSecrets.split(","))
                                .map(String::trim)
                                .filter(x -> !x.isEmpty())
                                .toList());
        return new Injection(
                d.mountPath(),
                d.viewPath(),
                hostPath,
                waitImage,
                volumeMode,
                wait,
                new PodSecurity(podSecurityDefault, podSecurityFallback),
                emptyDirSizeLimit == null || emptyDirSizeLimit.isBlank() ? null : emptyDirSizeLimit);
    }

    /** {@code cpu=10m,memory=16Mi} as quantities; only cpu and memory. */
    static Map<String, Quantity> quantities(String flag, String value) {
        Map<String, Quantity> out = new LinkedHashMap<>();
        for (String part : value == null ? new String[0] : value.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            String key = eq < 0 ? "" : part.substring(0, eq).trim();
            if (!List.of("cpu", "memory").contains(key)) {
                throw new IllegalArgumentException(flag + " wants cpu=QUANTITY,memory=QUANTITY, got " + value);
            }
            Quantity q = new Quantity(part.substring(eq + 1).trim());
            Quantity.getAmountInBytes(q); // fails here, at start, on a malformed quantity
            out.put(key, q);
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        Settings s = settings();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
        try (KubernetesClient client = new KubernetesClientBuilder().build();
                Running r = start(client, s)) {
            log.info(
                    "webhook on https://{}:{}; reconciler {}",
                    s.listen().getHostString(),
                    r.webhook().port(),
                    s.lease() != null ? "runs while this replica leads" : "runs here");
            stop.await();
        }
        return 0;
    }

    /** The running parts, closed in reverse order. */
    public record Running(
            WebhookServer webhook,
            InformerCacheLookup lookup,
            InformerNamespaceLookup namespaces,
            AgentDirectory agents,
            Operator operator,
            ScheduledExecutorService tlsChecks,
            TlsSource tls,
            OperatorMetrics metrics,
            HttpServer metricsServer)
            implements AutoCloseable {
        @Override
        public void close() {
            if (metricsServer != null) {
                metricsServer.stop(0);
            }
            operator.stop();
            tlsChecks.shutdownNow();
            tls.close();
            webhook.close();
            lookup.close();
            namespaces.close();
            agents.close();
        }
    }

    /** Starts everything against {@code client}; also what tests and the end-to-end harness run. */
    public static Running start(KubernetesClient client, Settings s) throws Exception {
        Clock clock = Clock.systemUTC();
        TlsSource tls = s.tlsDir() != null
                ? new FileTlsSource(s.tlsDir())
                : new CertificateManager(client, certConfig(s), clock);
        TlsMaterial material = tls.load();
        OperatorMetrics metrics = new OperatorMetrics();
        metrics.certificates(material.certificate(), material.issuingCa());
        InformerCacheLookup lookup = new InformerCacheLookup(client);
        lookup.start();
        InformerNamespaceLookup namespaces = new InformerNamespaceLookup(client);
        namespaces.start();
        // until then every namespace reads as restricted (no hostPath): wait a little for the real levels
        for (long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                !namespaces.synced() && System.nanoTime() < deadline; ) {
            Thread.sleep(50);
        }
        WebhookServer webhook = new WebhookServer(
                s.listen(),
                material.sslContext(),
                new PodMutator(s.injection()),
                lookup,
                namespaces,
                new KubeConfigMapLookup(client),
                metrics);
        webhook.start();
        ScheduledExecutorService checks = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mithril-tls");
            t.setDaemon(true);
            return t;
        });
        tls.watch(checks, Duration.ofHours(1), m -> {
            try {
                webhook.reloadTls(m.sslContext());
                metrics.certificates(m.certificate(), m.issuingCa());
                log.info(
                        "webhook certificate reloaded (serial {})",
                        m.certificate().getSerialNumber().toString(16));
            } catch (GeneralSecurityException e) {
                log.error("new webhook certificate unusable, keeping the old one: {}", e.getMessage());
            }
        });
        AgentDirectory agents = new AgentDirectory(client, s.agents(), Ticker.systemTicker());
        agents.start();
        Operator operator = new Operator(o -> {
            o.withKubernetesClient(client)
                    .withCloseClientOnStop(false)
                    .withUseSSAToPatchPrimaryResource(s.serverSideApply())
                    .withSSABasedCreateUpdateMatchForDependentResources(s.serverSideApply());
            if (s.lease() != null) {
                Lease l = s.lease();
                o.withLeaderElectionConfiguration(new LeaderElectionConfiguration(
                        "mithril-operator",
                        s.namespace(),
                        l.duration(),
                        l.renewDeadline(),
                        l.retryPeriod(),
                        l.identity(),
                        null,
                        l.exitOnLoss()));
            }
        });
        operator.register(new CompileCacheReconciler(agents, new Events(client, clock), clock, s.resync(), metrics));
        operator.start();
        HttpServer metricsServer = null;
        if (s.metricsListen() != null) {
            metricsServer = metrics.server(s.metricsListen());
            metricsServer.start();
        }
        return new Running(webhook, lookup, namespaces, agents, operator, checks, tls, metrics, metricsServer);
    }

    static CertificateManager.Config certConfig(Settings s) {
        CertificateManager.Config d = CertificateManager.Config.defaults(s.namespace(), s.service());
        return new CertificateManager.Config(
                d.namespace(),
                d.secretName(),
                s.webhookConfig(),
                d.serviceName(),
                d.caValidity(),
                d.servingValidity(),
                d.renewBefore(),
                d.retryInterval());
    }

    public static void main(String[] args) {
        // Without TCP_NODELAY the JDK server's responses meet the client's delayed ACK: ~45 ms per
        // admission instead of ~1-2 ms (docs/benchmarks.md, Operator). Read once, before the first server.
        System.setProperty("sun.net.httpserver.nodelay", System.getProperty("sun.net.httpserver.nodelay", "true"));
        CommandLine cl = new CommandLine(new OperatorMain());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("mithril-operator: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        System.exit(cl.execute(args));
    }
}
