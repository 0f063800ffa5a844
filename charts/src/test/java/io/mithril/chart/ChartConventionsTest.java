package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The knobs node-level charts offer: placement, update strategy, pod labels, extra env/volumes, security contexts. */
class ChartConventionsTest {

    @Test
    void agentPlacement_gpuLabelsOverridable_affinityReplacesThem_tolerateAllTaints() {
        RenderedChart labels = RenderedChart.render("agent: {gpuNodeLabels: [example.com/has-gpu]}");
        PodSpec pod = labels.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getAffinity()
                        .getNodeAffinity()
                        .getRequiredDuringSchedulingIgnoredDuringExecution()
                        .getNodeSelectorTerms())
                .singleElement()
                .satisfies(
                        t -> assertThat(t.getMatchExpressions().get(0).getKey()).isEqualTo("example.com/has-gpu"));
        RenderedChart own = RenderedChart.render("""
                agent:
                  affinity: {podAntiAffinity: {}}
                  tolerateAllTaints: true
                """);
        PodSpec ownPod = own.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(ownPod.getAffinity().getNodeAffinity()).isNull();
        assertThat(ownPod.getTolerations()).singleElement().satisfies(t -> {
            assertThat(t.getOperator()).isEqualTo("Exists");
            assertThat(t.getKey()).isNull();
        });
        PodSpec anywhere = RenderedChart.render("agent: {gpuNodeLabels: []}")
                .only(DaemonSet.class)
                .getSpec()
                .getTemplate()
                .getSpec();
        assertThat(anywhere.getAffinity()).isNull();
    }

    @Test
    void setOnTheCommandLine_nodeSelectorAndPodLabelValues_areRenderedAsStrings() {
        RenderedChart chart = RenderedChart.render(
                RenderedChart.RELEASE,
                null,
                RenderedChart.KUBE_VERSION,
                Map.of(
                        "agent.nodeSelector.gpu",
                        "true",
                        "agent.podLabels.team",
                        "1",
                        "operator.podLabels.critical",
                        "true"));
        assertThat(chart.yaml).contains("gpu: \"true\"").contains("team: \"1\"").contains("critical: \"true\"");
        assertThat(chart.only(DaemonSet.class).getSpec().getTemplate().getSpec().getNodeSelector())
                .containsEntry("gpu", "true");
        assertThat(chart.only(DaemonSet.class)
                        .getSpec()
                        .getTemplate()
                        .getMetadata()
                        .getLabels())
                .containsEntry("team", "1")
                .containsKey("app.kubernetes.io/component");
    }

    @Test
    void updateStrategy_onDeleteOrSurge_areRendered() {
        var onDelete = RenderedChart.render("agent: {updateStrategy: OnDelete}")
                .only(DaemonSet.class)
                .getSpec()
                .getUpdateStrategy();
        assertThat(onDelete.getType()).isEqualTo("OnDelete");
        assertThat(onDelete.getRollingUpdate()).isNull();
        var surge = RenderedChart.render("agent: {maxUnavailable: 0, maxSurge: 1}")
                .only(DaemonSet.class)
                .getSpec()
                .getUpdateStrategy();
        assertThat(surge.getRollingUpdate().getMaxSurge().getIntVal()).isEqualTo(1);
        assertThat(surge.getRollingUpdate().getMaxUnavailable().getIntVal()).isZero();
    }

    @Test
    void extraEnvVolumesMountsAndSecurityContexts_reachBothWorkloads_defaultsKeptOtherwise() {
        RenderedChart chart = RenderedChart.render("""
                agent:
                  extraEnv: [{name: HTTP_PROXY, value: "http://proxy:3128"}]
                  extraVolumes: [{name: ca, configMap: {name: corp-ca}}]
                  extraVolumeMounts: [{name: ca, mountPath: /etc/ssl/corp, readOnly: true}]
                  podSecurityContext: {seccompProfile: {type: Localhost, localhostProfile: mithril.json}}
                  securityContext: {runAsUser: 0, capabilities: {drop: [ALL], add: [CHOWN, FOWNER, DAC_OVERRIDE]}, readOnlyRootFilesystem: true}
                operator:
                  extraEnv: [{name: JAVA_TOOL_OPTIONS, value: "-Dx=y"}]
                  extraVolumes: [{name: ca, configMap: {name: corp-ca}}]
                  extraVolumeMounts: [{name: ca, mountPath: /etc/ssl/corp}]
                  podSecurityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
                  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
                """);
        assertThat(chart.agent().getEnv())
                .anySatisfy(e -> assertThat(e.getName()).isEqualTo("HTTP_PROXY"));
        assertThat(chart.agent().getEnv())
                .anySatisfy(e -> assertThat(e.getName()).isEqualTo("NODE_NAME"));
        assertThat(chart.agent().getVolumeMounts())
                .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/etc/ssl/corp"));
        PodSpec agentPod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(agentPod.getVolumes())
                .anySatisfy(v -> assertThat(v.getName()).isEqualTo("ca"));
        assertThat(agentPod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("Localhost");
        assertThat(chart.agent().getSecurityContext().getAllowPrivilegeEscalation())
                .as("replaced as a whole")
                .isNull();
        assertThat(chart.operator().getEnv())
                .anySatisfy(e -> assertThat(e.getName()).isEqualTo("JAVA_TOOL_OPTIONS"));
        PodSpec opPod = chart.only(Deployment.class).getSpec().getTemplate().getSpec();
        assertThat(opPod.getVolumes()).anySatisfy(v -> assertThat(v.getName()).isEqualTo("ca"));
        assertThat(opPod.getSecurityContext().getRunAsUser()).isNull();
        assertThat(chart.operator().getSecurityContext().getReadOnlyRootFilesystem())
                .isNull();
        RenderedChart defaults = RenderedChart.render();
        assertThat(defaults.agent().getSecurityContext().getCapabilities().getAdd())
                .containsExactly("CHOWN", "FOWNER", "DAC_OVERRIDE");
        assertThat(defaults.operator().getSecurityContext().getReadOnlyRootFilesystem())
                .isTrue();
    }
}
