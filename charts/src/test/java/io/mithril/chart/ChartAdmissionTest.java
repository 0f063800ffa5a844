package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicy;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What keeps admission cheap and safe: matchConditions by Kubernetes version, the ephemeral-container guard
 * (a second webhook and a ValidatingAdmissionPolicy), the wait step's image and settings, registry override,
 * digests and pull secrets, and label values rendered as strings.
 */
class ChartAdmissionTest {

    static MutatingWebhook hook(RenderedChart chart, String name) {
        return chart.only(MutatingWebhookConfiguration.class).getWebhooks().stream()
                .filter(w -> w.getName().equals(name))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void kube131_webhooks_haveMatchConditions_onTheAnnotation_andOnInjectedPodsForEphemeralContainers() {
        RenderedChart chart = RenderedChart.render();
        MutatingWebhook pods = hook(chart, "pods.mithril.io");
        assertThat(pods.getMatchConditions())
                .singleElement()
                .satisfies(c -> assertThat(c.getExpression())
                        .contains("object.metadata.annotations['mithril.io/cache'] == 'enabled'"));
        assertThat(pods.getRules()).singleElement().satisfies(r -> {
            assertThat(r.getResources()).containsExactly("pods");
            assertThat(r.getOperations()).containsExactly("CREATE");
        });
        MutatingWebhook eph = hook(chart, "ephemeral.mithril.io");
        assertThat(eph.getRules()).singleElement().satisfies(r -> {
            assertThat(r.getResources()).containsExactly("pods/ephemeralcontainers");
            assertThat(r.getOperations()).containsExactly("UPDATE");
        });
        assertThat(eph.getMatchConditions())
                .singleElement()
                .satisfies(c -> assertThat(c.getExpression()).contains("mithril.io/injected"));
        assertThat(eph.getFailurePolicy()).isEqualTo("Ignore");
        assertThat(eph.getNamespaceSelector()).isEqualTo(pods.getNamespaceSelector());
        assertThat(eph.getClientConfig().getService())
                .isEqualTo(pods.getClientConfig().getService());
    }

    @Test
    void kube129_webhooks_haveNoMatchConditions_andNoAdmissionPolicy_soOlderApiServersAcceptThem() {
        RenderedChart chart = RenderedChart.render(RenderedChart.RELEASE, null, "1.29.4", Map.of());
        for (MutatingWebhook w : chart.only(MutatingWebhookConfiguration.class).getWebhooks()) {
            assertThat(w.getMatchConditions()).as(w.getName()).isNullOrEmpty();
        }
        assertThat(chart.all(ValidatingAdmissionPolicy.class)).isEmpty();
        RenderedChart off = RenderedChart.render("webhook: {matchConditions: false, ephemeralContainerPolicy: false}");
        assertThat(hook(off, "pods.mithril.io").getMatchConditions()).isNullOrEmpty();
        assertThat(off.all(ValidatingAdmissionPolicy.class)).isEmpty();
    }

    @Test
    void kube131_ephemeralContainerPolicy_deniesMountsOfTheViewVolume_enforcedByTheApiServer() {
        RenderedChart chart = RenderedChart.render();
        ValidatingAdmissionPolicy vap = chart.only(ValidatingAdmissionPolicy.class);
        assertThat(vap.getSpec().getFailurePolicy()).isEqualTo("Fail");
        assertThat(vap.getSpec().getMatchConstraints().getResourceRules())
                .singleElement()
                .satisfies(r -> assertThat(r.getResources()).containsExactly("pods/ephemeralcontainers"));
        assertThat(vap.getSpec().getValidations())
                .singleElement()
                .satisfies(v -> assertThat(v.getExpression())
                        .contains("object.spec.ephemeralContainers.all(c")
                        .contains("m.name != 'mithril-view'"));
        ValidatingAdmissionPolicyBinding binding = chart.only(ValidatingAdmissionPolicyBinding.class);
        assertThat(binding.getSpec().getPolicyName())
                .isEqualTo(vap.getMetadata().getName());
        assertThat(binding.getSpec().getValidationActions()).containsExactly("Deny");
    }

    @Test
    void setOnTheCommandLine_labelValueTrue_isRenderedAsAString() {
        RenderedChart chart = RenderedChart.render(
                RenderedChart.RELEASE,
                null,
                RenderedChart.KUBE_VERSION,
                Map.of(
                        "webhook.namespaceLabels.mithril\\.io/enabled",
                        "true",
                        "webhook.objectSelector.matchLabels.gpu",
                        "true"));
        assertThat(chart.yaml).contains("mithril.io/enabled: \"true\"").contains("gpu: \"true\"");
        assertThat(chart.yaml).doesNotContain("mithril.io/enabled: true");
        assertThat(hook(chart, "pods.mithril.io").getNamespaceSelector().getMatchLabels())
                .containsEntry("mithril.io/enabled", "true");
    }

    @Test
    void globalImageRegistry_rewritesEveryImage_theWaitStepsIncluded_andDigestsPin() {
        RenderedChart chart = RenderedChart.render("""
                global: {imageRegistry: mirror.corp:5000}
                operator: {image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}
                """);
        assertThat(chart.operator().getImage())
                .isEqualTo(
                        "mirror.corp:5000/mithril-io/mithril-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        assertThat(chart.agent().getImage()).isEqualTo("mirror.corp:5000/mithril-io/mithril-node-agent:0.1.0");
        assertThat(chart.operatorFlags())
                .containsEntry("--wait-image", chart.operator().getImage());
        RenderedChart busybox = RenderedChart.render("""
                global: {imageRegistry: mirror.corp/hub}
                waitImage: busybox:1.36
                webhook: {waitStep: {runAsUser: "65534"}}
                """);
        assertThat(busybox.operatorFlags())
                .containsEntry("--wait-image", "mirror.corp/hub/library/busybox:1.36")
                .containsEntry("--wait-run-as-user", "65534");
        assertThat(RenderedChart.render("waitImage: registry.local/tools/busybox:1.36")
                        .operatorFlags())
                .as("no override: as given")
                .containsEntry("--wait-image", "registry.local/tools/busybox:1.36");
    }

    @Test
    void pullSecrets_perImage_addToTheGlobalOnes_andTheWaitStepsReachTheOperator() {
        RenderedChart chart = RenderedChart.render("""
                imagePullSecrets: [{name: all}]
                operator: {image: {pullSecrets: [{name: op-only}]}}
                agent: {image: {pullSecrets: [{name: agent-only}]}}
                webhook: {waitStep: {pullSecrets: [mirror-a, mirror-b]}}
                """);
        assertThat(chart.only(Deployment.class)
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getImagePullSecrets())
                .extracting(r -> r.getName())
                .containsExactly("all", "op-only");
        assertThat(chart.only(DaemonSet.class).getSpec().getTemplate().getSpec().getImagePullSecrets())
                .extracting(r -> r.getName())
                .containsExactly("all", "agent-only");
        assertThat(chart.operatorFlags()).containsEntry("--wait-pull-secrets", "mirror-a,mirror-b");
        assertThat(RenderedChart.render()
                        .only(Deployment.class)
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getImagePullSecrets())
                .isNullOrEmpty();
    }

    @Test
    void waitStepResources_andPodSecurity_andEmptyDirSizeLimit_reachTheOperator() {
        RenderedChart chart = RenderedChart.render("""
                webhook:
                  waitStep: {resources: {requests: {cpu: 5m, memory: 8Mi}, limits: {cpu: 50m, memory: 24Mi}}}
                  podSecurity: {defaultLevel: baseline, fallback: Skip}
                  emptyDirSizeLimit: 40Gi
                """);
        assertThat(chart.operatorFlags())
                .containsEntry("--wait-requests", "cpu=5m,memory=8Mi")
                .containsEntry("--wait-limits", "cpu=50m,memory=24Mi")
                .containsEntry("--pod-security-default", "baseline")
                .containsEntry("--pod-security-fallback", "Skip")
                .containsEntry("--empty-dir-size-limit", "40Gi");
        assertThat(RenderedChart.render().operatorFlags())
                .containsEntry("--wait-requests", "cpu=10m,memory=16Mi")
                .containsEntry("--wait-limits", "cpu=100m,memory=32Mi");
    }
}
