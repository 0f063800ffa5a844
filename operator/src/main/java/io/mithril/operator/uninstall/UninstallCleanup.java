package io.mithril.operator.uninstall;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mithril-operator cleanup}: the chart's post-delete hook Job (with {@code cleanup.enabled}). The
 * hook's DaemonSet clears each GPU node's store and the views of pods gone from it; this waits until it
 * is ready on every node it was scheduled to (ready = done), then deletes the operator's webhook Secret,
 * which no template owns. Helm deletes the hook's DaemonSet and this Job once it succeeds.
 */
@Command(
        name = "cleanup",
        description = "After helm uninstall: wait for the node cleanup DaemonSet, then delete the webhook Secret.")
public final class UninstallCleanup implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(
            names = "--namespace",
            defaultValue = "${env:POD_NAMESPACE:-mithril-system}",
            description = "The release namespace.")
    String namespace;

    @Option(names = "--daemonset", required = true, description = "The node cleanup DaemonSet to wait for.")
    String daemonSet;

    @Option(
            names = "--secret",
            defaultValue = "",
            description = "Secret to delete once the nodes are clean; empty: none.")
    String secret;

    @Option(names = "--timeout", defaultValue = "600", description = "Seconds to wait for the nodes.")
    int timeoutSeconds;

    @Override
    public Integer call() throws InterruptedException {
        try (KubernetesClient client = new KubernetesClientBuilder().build()) {
            return run(
                    client,
                    namespace,
                    daemonSet,
                    secret,
                    Duration.ofSeconds(timeoutSeconds),
                    Duration.ofSeconds(2),
                    Clock.systemUTC(),
                    spec.commandLine().getOut());
        }
    }

    /** 0 when every scheduled node reported done (and the Secret is gone), 1 after {@code timeout}. */
    public static int run(
            KubernetesClient client,
            String namespace,
            String daemonSet,
            String secret,
            Duration timeout,
            Duration poll,
            Clock clock,
            PrintWriter out)
            throws InterruptedException {
        Instant deadline = clock.instant().plus(timeout);
        while (true) {
            DaemonSet ds = client.apps()
                    .daemonSets()
                    .inNamespace(namespace)
                    .withName(daemonSet)
                    .get();
            if (ds == null) {
                out.println("mithril: DaemonSet " + daemonSet + " is gone; nothing to wait for");
                break;
            }
            if (done(ds)) {
                out.println("mithril: nodes cleaned: " + ds.getStatus().getNumberReady() + " of "
                        + ds.getStatus().getDesiredNumberScheduled());
                break;
            }
            if (!clock.instant().isBefore(deadline)) {
                out.println("mithril: nodes not all cleaned after " + timeout.toSeconds() + " s ("
                        + (ds.getStatus() == null ? 0 : ds.getStatus().getNumberReady())
                        + " ready); the Secret is left; see docs/install.md, Uninstall");
                out.flush();
                return 1;
            }
            Thread.sleep(poll.toMillis());
        }
        if (!secret.isBlank()) {
            client.secrets().inNamespace(namespace).withName(secret).delete();
            out.println("mithril: Secret " + namespace + "/" + secret + " deleted");
        }
        out.flush();
        return 0;
    }

    static boolean done(DaemonSet ds) {
        var st = ds.getStatus();
        if (st == null || st.getDesiredNumberScheduled() == null || st.getNumberReady() == null) {
            return false;
        }
        Long gen = ds.getMetadata().getGeneration();
        boolean observed = gen == null || (st.getObservedGeneration() != null && st.getObservedGeneration() >= gen);
        return observed && st.getNumberReady() >= st.getDesiredNumberScheduled();
    }
}
