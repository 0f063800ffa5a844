package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** ServiceMonitor, Grafana dashboard and NetworkPolicy: off by default, right when on. */
class ChartMetricsTest {

    static final Path AGENT_METRICS = Path.of("../node-agent/src/main/java/io/mithril/agent/serve/AgentMetrics.java");
    static final Path OPERATOR_METRICS =
            Path.of("../operator/src/main/java/io/mithril/operator/metrics/OperatorMetrics.java");
    private static final Pattern METRIC = Pattern.compile("mithril_[a-z_]+");

    @Test
    void defaults_noMonitoringObjects_noDashboard_noNetworkPolicy() {
        RenderedChart chart = RenderedChart.render();
        assertThat(chart.generic("ServiceMonitor")).isEmpty();
        assertThat(chart.all(ConfigMap.class)).isEmpty();
        assertThat(chart.all(NetworkPolicy.class)).isEmpty();
        assertThat(chart.all(Service.class))
                .extracting(s -> s.getMetadata().getName())
                .containsExactly("mithril-webhook");
    }

    @Test
    @SuppressWarnings("unchecked")
    void serviceMonitorOn_scrapesEveryAgentsMetricsOnPortHttp() {
        RenderedChart chart =
                RenderedChart.render("metrics: {serviceMonitor: {enabled: true, labels: {release: prom}}}");
        Service svc = chart.get(Service.class, "mithril-node-agent");
        Map<String, String> agentPod = chart.only(DaemonSet.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        Map<String, String> opPod = chart.only(Deployment.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        assertThat(agentPod.entrySet()).containsAll(svc.getSpec().getSelector().entrySet());
        assertThat(opPod.entrySet().containsAll(svc.getSpec().getSelector().entrySet()))
                .isFalse();
        assertThat(svc.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(svc.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("http");
        });
        GenericKubernetesResource sm = chart.generic("ServiceMonitor").get(0);
        assertThat(sm.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
        assertThat(sm.getMetadata().getLabels()).containsEntry("release", "prom");
        Map<String, Object> spec =
                (Map<String, Object>) sm.getAdditionalProperties().get("spec");
        Map<String, String> match =
                (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
        assertThat(svc.getMetadata().getLabels().entrySet()).containsAll(match.entrySet());
        List<Map<String, Object>> endpoints = (List<Map<String, Object>>) spec.get("endpoints");
        assertThat(endpoints).singleElement().satisfies(e -> {
            assertThat(e)
                    .containsEntry("port", "http")
                    .containsEntry("path", "/metrics")
                    .containsEntry("interval", "30s");
            assertThat(e).containsEntry("honorLabels", true);
        });
    }

    static Set<String> agentMetricNames() throws Exception {
        return metricNames(AGENT_METRICS);
    }

    static Set<String> metricNames(Path source) throws Exception {
        Set<String> names = new TreeSet<>();
        // names passed to gauge(), counter(), Histogram and header(), and those written out in "# TYPE" lines
        Matcher m = Pattern.compile("\"(mithril_[a-z_]+)\"|# TYPE (mithril_[a-z_]+) ")
                .matcher(Files.readString(source));
        while (m.find()) {
            names.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        return names;
    }

    @Test
    void grafanaDashboardOn_labelledForTheSidecar_queriesOnlyMetricsTheAgentExports() throws Exception {
        RenderedChart chart = RenderedChart.render("metrics: {grafanaDashboard: {enabled: true}}");
        ConfigMap cm = chart.only(ConfigMap.class);
        assertThat(cm.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
        assertThat(cm.getData()).hasSize(1);
        JsonNode dashboard =
                new ObjectMapper().readTree(cm.getData().values().iterator().next());
        List<String> exprs = new ArrayList<>();
        dashboard
                .get("panels")
                .forEach(p ->
                        p.get("targets").forEach(t -> exprs.add(t.get("expr").asText())));
        Set<String> used = new TreeSet<>();
        for (String e : exprs) {
            Matcher m = METRIC.matcher(e);
            while (m.find()) {
                used.add(m.group().replaceAll("_(bucket|sum|count)$", ""));
            }
        }
        Set<String> exported = agentMetricNames();
        assertThat(exported)
                .as("read from %s", AGENT_METRICS)
                .contains("mithril_store_bytes", "mithril_group_hits_total");
        Set<String> operator = metricNames(OPERATOR_METRICS);
        assertThat(operator)
                .as("read from %s", OPERATOR_METRICS)
                .contains(
                        "mithril_operator_admissions_total",
                        "mithril_operator_admission_duration_seconds",
                        "mithril_operator_reconciles_total",
                        "mithril_operator_certificate_expiry_timestamp_seconds");
        exported.addAll(operator);
        assertThat(exported).containsAll(used);
        assertThat(used).as("the operator's panels").containsAll(operator);
        assertThat(used)
                .contains(
                        "mithril_store_bytes",
                        "mithril_group_hits_total",
                        "mithril_group_misses_total",
                        "mithril_publish_duration_seconds",
                        "mithril_evictions_total");
    }

    @Test
    @SuppressWarnings("unchecked")
    void serviceMonitorOn_alsoScrapesTheOperatorsMetricsPort() {
        RenderedChart chart = RenderedChart.render("metrics: {serviceMonitor: {enabled: true}}");
        Service svc = chart.get(Service.class, "mithril-operator-metrics");
        Map<String, String> opPod = chart.only(Deployment.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        assertThat(opPod.entrySet()).containsAll(svc.getSpec().getSelector().entrySet());
        assertThat(chart.operator().getPorts()).anySatisfy(p -> {
            assertThat(p.getName()).isEqualTo("metrics");
            assertThat(p.getContainerPort()).isEqualTo(9090);
        });
        assertThat(chart.operatorFlags()).containsEntry("--metrics-listen", "0.0.0.0:9090");
        GenericKubernetesResource sm = chart.generic("ServiceMonitor").stream()
                .filter(g -> g.getMetadata().getName().equals("mithril-operator"))
                .findFirst()
                .orElseThrow();
        Map<String, Object> spec =
                (Map<String, Object>) sm.getAdditionalProperties().get("spec");
        Map<String, String> match =
                (Map<String, String>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
        assertThat(svc.getMetadata().getLabels().entrySet()).containsAll(match.entrySet());
        assertThat((List<Map<String, Object>>) spec.get("endpoints"))
                .singleElement()
                .satisfies(e -> assertThat(e).containsEntry("port", "metrics").containsEntry("path", "/metrics"));
    }

    @Test
    void networkPolicyOn_admitsOnlyTheOperatorAndExtraPeers_toTheAgentsHttpPort() {
        RenderedChart chart = RenderedChart.render("""
                networkPolicy:
                  enabled: true
                  extraFrom:
                    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
                """);
        NetworkPolicy np = chart.only(NetworkPolicy.class);
        Map<String, String> agentPod = chart.only(DaemonSet.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        Map<String, String> opPod = chart.only(Deployment.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        assertThat(agentPod.entrySet())
                .containsAll(np.getSpec().getPodSelector().getMatchLabels().entrySet());
        assertThat(np.getSpec().getPolicyTypes()).containsExactly("Ingress");
        assertThat(np.getSpec().getIngress()).singleElement().satisfies(rule -> {
            assertThat(rule.getPorts())
                    .singleElement()
                    .satisfies(p -> assertThat(p.getPort().getStrVal()).isEqualTo("http"));
            assertThat(rule.getFrom()).hasSize(2);
            assertThat(opPod.entrySet())
                    .containsAll(rule.getFrom()
                            .get(0)
                            .getPodSelector()
                            .getMatchLabels()
                            .entrySet());
            assertThat(agentPod.entrySet()
                            .containsAll(rule.getFrom()
                                    .get(0)
                                    .getPodSelector()
                                    .getMatchLabels()
                                    .entrySet()))
                    .isFalse();
            assertThat(rule.getFrom().get(1).getNamespaceSelector().getMatchLabels())
                    .containsEntry("kubernetes.io/metadata.name", "monitoring");
        });
    }
}
