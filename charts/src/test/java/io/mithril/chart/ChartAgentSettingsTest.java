package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.Test;

/** The agent's values reach its command line, and the operator's where they must agree. */
class ChartAgentSettingsTest {

    @Test
    void customBudget_reachesTheAgentsBudgetFlag() {
        RenderedChart chart = RenderedChart.render("agent: {nodeBudget: 750Gi}");
        assertThat(chart.agentFlags()).containsEntry("--budget", "750Gi");
        assertThat(chart.agent().getArgs()).containsSubsequence("--budget=750Gi", "serve");
    }

    @Test
    void customHostPath_movesStoreViewsMountAndTheWebhooksHostPathTogether() {
        RenderedChart chart = RenderedChart.render("agent: {hostPath: /mnt/nvme/mithril/}");
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getVolumes())
                .filteredOn(v -> v.getHostPath() != null && v.getName().equals("node-cache"))
                .singleElement()
                .satisfies(v -> assertThat(v.getHostPath().getPath()).isEqualTo("/mnt/nvme/mithril"));
        assertThat(chart.agent().getVolumeMounts())
                .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/mnt/nvme/mithril"));
        assertThat(chart.agentFlags())
                .containsEntry("--root", "/mnt/nvme/mithril/store")
                .containsEntry("--volumes", "/mnt/nvme/mithril/volumes");
        assertThat(chart.operatorFlags()).containsEntry("--host-path", "/mnt/nvme/mithril/volumes");
    }

    @Test
    void emptyDirMode_reachesTheOperator_andGivesTheAgentKubeletsPodFolder_only_then() {
        RenderedChart hostPath = RenderedChart.render("webhook: {podSecurity: {fallback: Skip}}");
        assertThat(hostPath.operatorFlags()).containsEntry("--volume-mode", "HostPath");
        assertThat(hostPath.agentFlags()).doesNotContainKey("--kubelet-pods");
        assertThat(hostPath.agent().getVolumeMounts())
                .noneSatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/var/lib/kubelet/pods"));

        RenderedChart chart = RenderedChart.render("webhook: {volumeMode: EmptyDir}");
        assertThat(chart.operatorFlags()).containsEntry("--volume-mode", "EmptyDir");
        assertThat(chart.agentFlags()).containsEntry("--kubelet-pods", "/var/lib/kubelet/pods");
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getVolumes())
                .filteredOn(v ->
                        v.getHostPath() != null && v.getHostPath().getPath().equals("/var/lib/kubelet/pods"))
                .singleElement()
                .satisfies(v -> assertThat(v.getHostPath().getType()).isEqualTo("Directory"));
        assertThat(chart.agent().getVolumeMounts())
                .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/var/lib/kubelet/pods"));
    }

    @Test
    void javaOptions_goToJdkJavaOptions_whichTheImagesDefaultsCannotOverride() {
        RenderedChart chart = RenderedChart.render("agent: {javaOptions: '-XX:+UseSerialGC -XX:MaxRAMPercentage=50'}");
        assertThat(chart.agent().getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("JDK_JAVA_OPTIONS");
            assertThat(e.getValue()).isEqualTo("-XX:+UseSerialGC -XX:MaxRAMPercentage=50");
        });
        assertThat(chart.agent().getEnv())
                .noneSatisfy(e -> assertThat(e.getName()).isEqualTo("JAVA_TOOL_OPTIONS"));
        assertThat(RenderedChart.render().operator().getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("JDK_JAVA_OPTIONS");
            assertThat(e.getValue()).contains("-XX:MaxRAMPercentage=70");
        });
    }

    @Test
    void customPort_movesTheContainerPortListenAndTheOperatorsAgentPort() {
        RenderedChart chart = RenderedChart.render("agent: {port: 9500}");
        assertThat(ChartDefaultsTest.port(chart.agent(), "http").getContainerPort())
                .isEqualTo(9500);
        assertThat(chart.agentFlags()).containsEntry("--listen", "0.0.0.0:9500");
        assertThat(chart.operatorFlags()).containsEntry("--agent-port", "9500");
    }

    @Test
    void overrides_deviceClassGpuProductPlacementAndPriority_areApplied() {
        RenderedChart chart = RenderedChart.render("""
                agent:
                  deviceClass: cuda-9.0
                  gpuProduct: NVIDIA-H100-80GB-HBM3
                  nodeSelector: null
                  tolerations: []
                  priorityClassName: system-node-critical
                  ingestInterval: 30s
                """);
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(chart.agentFlags())
                .containsEntry("--device-class", "cuda-9.0")
                .containsEntry("--gpu-product", "NVIDIA-H100-80GB-HBM3")
                .containsEntry("--ingest-interval", "30s");
        assertThat(pod.getNodeSelector()).isNullOrEmpty();
        assertThat(pod.getTolerations()).isNullOrEmpty();
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
    }

    @Test
    void hostPathMode_withThePodSecurityFallbackEmptyDir_alsoGivesTheAgentKubeletsPodFolder() {
        RenderedChart chart = RenderedChart.render();
        assertThat(chart.operatorFlags())
                .containsEntry("--volume-mode", "HostPath")
                .containsEntry("--pod-security-fallback", "EmptyDir")
                .containsEntry("--pod-security-default", "privileged");
        assertThat(chart.agentFlags()).containsEntry("--kubelet-pods", "/var/lib/kubelet/pods");
        assertThat(chart.agent().getVolumeMounts())
                .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/var/lib/kubelet/pods"));
    }

    @Test
    void minFreeSpace_reachesTheAgentAsAGlobalFlag_defaultAboveKubeletsEvictionThresholds() {
        assertThat(RenderedChart.render().agent().getArgs()).containsSubsequence("--min-free=15%", "serve");
        assertThat(RenderedChart.render("agent: {minFreeSpace: 50Gi}").agentFlags())
                .containsEntry("--min-free", "50Gi");
    }
}
