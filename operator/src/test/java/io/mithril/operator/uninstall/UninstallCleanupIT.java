package io.mithril.operator.uninstall;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The post-delete hook's wait and Secret removal, against fabric8's mock API server. */
@EnableKubernetesMockClient(crud = true)
class UninstallCleanupIT {

    static final String NS = "mithril-system";
    KubernetesClient client;

    @BeforeEach
    void secret() {
        client.secrets()
                .inNamespace(NS)
                .resource(new SecretBuilder()
                        .withNewMetadata()
                        .withName("mithril-webhook-tls")
                        .endMetadata()
                        .addToStringData("tls.crt", "x")
                        .build())
                .create();
    }

    void daemonSet(int desired, int ready) {
        DaemonSet ds = new DaemonSetBuilder()
                .withNewMetadata()
                .withName("mithril-cleanup")
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .endSpec()
                .build();
        client.apps().daemonSets().inNamespace(NS).resource(ds).create();
        ds = client.apps()
                .daemonSets()
                .inNamespace(NS)
                .withName("mithril-cleanup")
                .get();
        ds.setStatus(new io.fabric8.kubernetes.api.model.apps.DaemonSetStatusBuilder()
                .withDesiredNumberScheduled(desired)
                .withNumberReady(ready)
                .withObservedGeneration(ds.getMetadata().getGeneration())
                .build());
        client.apps().daemonSets().inNamespace(NS).resource(ds).updateStatus();
    }

    final StringWriter out = new StringWriter();

    int cleanup(Duration timeout) throws InterruptedException {
        return UninstallCleanup.run(
                client,
                NS,
                "mithril-cleanup",
                "mithril-webhook-tls",
                timeout,
                Duration.ofMillis(50),
                Clock.systemUTC(),
                new PrintWriter(out));
    }

    @Test
    void cleanup_everyNodeDone_deletesTheWebhookSecret() throws Exception {
        daemonSet(3, 3);
        assertThat(cleanup(Duration.ofSeconds(5))).isZero();
        assertThat(out.toString()).contains("nodes cleaned: 3 of 3");
        assertThat(client.secrets()
                        .inNamespace(NS)
                        .withName("mithril-webhook-tls")
                        .get())
                .isNull();
    }

    @Test
    void cleanup_aNodeNotDone_waitsUntilTheTimeout_andLeavesTheSecret() throws Exception {
        daemonSet(3, 2);
        assertThat(cleanup(Duration.ofMillis(400))).isEqualTo(1);
        assertThat(out.toString()).contains("not all cleaned");
        assertThat(client.secrets()
                        .inNamespace(NS)
                        .withName("mithril-webhook-tls")
                        .get())
                .isNotNull();
    }
}
