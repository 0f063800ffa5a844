package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** RBAC equals the least-privilege table of docs/operator.md, one grant (group, resource, verb, names) at a time. */
class ChartRbacTest {

    static final Set<String> AGENT_CLUSTER = Set.of(
            "|nodes|get|",
            "|pods|list|",
            "|pods|watch|",
            "|events|create|",
            "mithril.io|compilecaches|list|",
            "mithril.io|compilecaches|watch|");
    static final Set<String> OPERATOR_CLUSTER = Set.of(
            "mithril.io|compilecaches|get|",
            "mithril.io|compilecaches|list|",
            "mithril.io|compilecaches|watch|",
            "mithril.io|compilecaches/status|patch|",
            "mithril.io|compilecaches/status|update|",
            "|events|create|",
            "|configmaps|get|",
            "|namespaces|get|",
            "|namespaces|list|",
            "|namespaces|watch|",
            "|limitranges|list|",
            "|limitranges|watch|",
            "|resourcequotas|list|",
            "|resourcequotas|watch|",
            "authorization.k8s.io|selfsubjectrulesreviews|create|");
    static final Set<String> OPERATOR_WEBHOOK_CONFIG = Set.of(
            "admissionregistration.k8s.io|mutatingwebhookconfigurations|get|mithril",
            "admissionregistration.k8s.io|mutatingwebhookconfigurations|list|mithril",
            "admissionregistration.k8s.io|mutatingwebhookconfigurations|watch|mithril",
            "admissionregistration.k8s.io|mutatingwebhookconfigurations|patch|mithril");
    static final Set<String> OPERATOR_NAMESPACE = Set.of(
            "|pods|list|",
            "|pods|watch|",
            "coordination.k8s.io|leases|get|",
            "coordination.k8s.io|leases|create|",
            "coordination.k8s.io|leases|update|");
    static final Set<String> OPERATOR_SECRET =
            Set.of("|secrets|get|mithril-webhook-tls", "|secrets|update|mithril-webhook-tls", "|secrets|create|");

    /** Every single grant of these rules as group|resource|verb|resourceNames. */
    static Set<String> grants(List<PolicyRule> rules) {
        Set<String> out = new TreeSet<>();
        for (PolicyRule r : rules) {
            String names = r.getResourceNames() == null ? "" : String.join(",", r.getResourceNames());
            assertThat(r.getNonResourceURLs()).isNullOrEmpty();
            for (String g : r.getApiGroups()) {
                for (String res : r.getResources()) {
                    for (String v : r.getVerbs()) {
                        out.add(g + "|" + res + "|" + v + "|" + names);
                    }
                }
            }
        }
        return out;
    }

    static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> out = new TreeSet<>(a);
        out.addAll(b);
        return out;
    }

    @Test
    void defaults_rbac_equalsTheLeastPrivilegeTable() {
        RenderedChart chart = RenderedChart.render();
        assertThat(grants(chart.get(ClusterRole.class, "mithril-node-agent").getRules()))
                .isEqualTo(AGENT_CLUSTER);
        assertThat(grants(chart.get(ClusterRole.class, "mithril-operator").getRules()))
                .isEqualTo(union(OPERATOR_CLUSTER, OPERATOR_WEBHOOK_CONFIG));
        assertThat(grants(chart.only(Role.class).getRules())).isEqualTo(union(OPERATOR_NAMESPACE, OPERATOR_SECRET));
    }

    @Test
    void certManager_rbac_leavesOutSecretsAndTheWebhookConfiguration() {
        RenderedChart chart = RenderedChart.render("certManager: {enabled: true}");
        assertThat(grants(chart.get(ClusterRole.class, "mithril-node-agent").getRules()))
                .isEqualTo(AGENT_CLUSTER);
        assertThat(grants(chart.get(ClusterRole.class, "mithril-operator").getRules()))
                .isEqualTo(OPERATOR_CLUSTER);
        assertThat(grants(chart.only(Role.class).getRules())).isEqualTo(OPERATOR_NAMESPACE);
    }

    @Test
    void otherReleaseName_webhookConfigurationRule_namesTheRenderedConfiguration() {
        RenderedChart chart = RenderedChart.render("cache", "webhook: {configurationName: cache-pods}");
        assertThat(chart.operatorFlags()).containsEntry("--webhook-config", "cache-pods");
        assertThat(grants(chart.get(ClusterRole.class, "cache-mithril-operator").getRules()))
                .contains("admissionregistration.k8s.io|mutatingwebhookconfigurations|patch|cache-pods")
                .noneMatch(g -> g.endsWith("|mithril"));
    }

    @Test
    void anyScenario_rbac_hasNoWildcards_andBindsEachRoleToItsWorkloadsServiceAccount() {
        for (String values : List.of(
                "{}",
                "certManager: {enabled: true}",
                "metrics: {serviceMonitor: {enabled: true}, grafanaDashboard: {enabled: true}}\nnetworkPolicy: {enabled: true}")) {
            RenderedChart chart = RenderedChart.render(values);
            List<PolicyRule> all = new java.util.ArrayList<>();
            chart.all(ClusterRole.class).forEach(r -> all.addAll(r.getRules()));
            chart.all(Role.class).forEach(r -> all.addAll(r.getRules()));
            assertThat(grants(all)).as(values).isNotEmpty().noneMatch(g -> g.contains("*"));
            String opSa = chart.only(Deployment.class)
                    .getSpec()
                    .getTemplate()
                    .getSpec()
                    .getServiceAccountName();
            String agentSa = chart.only(DaemonSet.class)
                    .getSpec()
                    .getTemplate()
                    .getSpec()
                    .getServiceAccountName();
            for (ClusterRoleBinding b : chart.all(ClusterRoleBinding.class)) {
                String sa = b.getRoleRef().getName().endsWith("node-agent") ? agentSa : opSa;
                assertThat(b.getSubjects()).singleElement().satisfies(s -> {
                    assertThat(s.getName()).isEqualTo(sa);
                    assertThat(s.getNamespace()).isEqualTo(RenderedChart.NAMESPACE);
                });
                assertThat(chart.get(ClusterRole.class, b.getRoleRef().getName()))
                        .isNotNull();
            }
            RoleBinding rb = chart.only(RoleBinding.class);
            assertThat(rb.getRoleRef().getKind()).isEqualTo("Role");
            assertThat(chart.get(Role.class, rb.getRoleRef().getName())).isNotNull();
            assertThat(rb.getSubjects())
                    .singleElement()
                    .satisfies(s -> assertThat(s.getName()).isEqualTo(opSa));
            assertThat(chart.all(ClusterRoleBinding.class)).hasSize(2);
        }
    }
}
