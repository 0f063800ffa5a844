package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Which pods reach the webhook, and its caBundle across upgrades (built-in certificates). */
class ChartWebhookTest {

    static MutatingWebhook webhook(RenderedChart chart) {
        return chart.only(MutatingWebhookConfiguration.class).getWebhooks().get(0);
    }

    @AfterEach
    void forgetLiveObjects() {
        FakeApiServer.webhookConfigs.clear();
    }

    @Test
    void namespaceLabels_restrictTheWebhookToLabelledNamespaces_stillExcludingSystemOnes() {
        RenderedChart chart = RenderedChart.render("""
                webhook:
                  namespaceLabels:
                    mithril.io/enabled: "true"
                  excludeNamespaces: [monitoring]
                  timeoutSeconds: 5
                """);
        LabelSelector ns = webhook(chart).getNamespaceSelector();
        assertThat(ns.getMatchLabels()).containsExactlyEntriesOf(Map.of("mithril.io/enabled", "true"));
        assertThat(ns.getMatchExpressions())
                .singleElement()
                .satisfies(e -> assertThat(e.getValues())
                        .containsExactlyInAnyOrder(
                                "kube-system",
                                "kube-public",
                                "kube-node-lease",
                                RenderedChart.NAMESPACE,
                                "monitoring"));
        assertThat(webhook(chart).getTimeoutSeconds()).isEqualTo(5);
    }

    @Test
    void objectSelector_isPassedThrough() {
        RenderedChart chart = RenderedChart.render("""
                webhook:
                  objectSelector:
                    matchExpressions:
                      - {key: mithril.io/skip, operator: DoesNotExist}
                """);
        LabelSelector os = webhook(chart).getObjectSelector();
        assertThat(os.getMatchExpressions()).singleElement().satisfies(e -> {
            assertThat(e.getKey()).isEqualTo("mithril.io/skip");
            assertThat(e.getOperator()).isEqualTo("DoesNotExist");
        });
    }

    @Test
    void upgrade_builtInCertificates_keepsTheLiveCaBundle() {
        FakeApiServer.webhookConfigs.put("mithril", """
                {"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration",
                 "metadata":{"name":"mithril"},
                 "webhooks":[{"name":"other.example.com","clientConfig":{"caBundle":"T1RIRVI="}},
                             {"name":"pods.mithril.io","clientConfig":{"caBundle":"TElWRQ=="}}]}""");
        assertThat(webhook(RenderedChart.render()).getClientConfig().getCaBundle())
                .isEqualTo("TElWRQ==");
    }

    @Test
    void upgrade_liveConfigurationWithoutCaBundle_rendersNone() {
        FakeApiServer.webhookConfigs.put("mithril", """
                {"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration",
                 "metadata":{"name":"mithril"},"webhooks":[{"name":"pods.mithril.io","clientConfig":{}}]}""");
        assertThat(webhook(RenderedChart.render()).getClientConfig().getCaBundle())
                .isNull();
    }

    @Test
    void upgrade_withCertManager_leavesCaBundleToTheInjector() {
        FakeApiServer.webhookConfigs.put("mithril", """
                {"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration",
                 "metadata":{"name":"mithril"},
                 "webhooks":[{"name":"pods.mithril.io","clientConfig":{"caBundle":"TElWRQ=="}}]}""");
        assertThat(webhook(RenderedChart.render("certManager: {enabled: true}"))
                        .getClientConfig()
                        .getCaBundle())
                .isNull();
    }
}
