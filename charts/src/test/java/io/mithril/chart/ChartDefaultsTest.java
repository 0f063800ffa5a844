package io.mithril.chart;

import static io.mithril.chart.RenderedChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The chart with its defaults: release mithril in mithril-system. */
class ChartDefaultsTest {

    private final RenderedChart chart = RenderedChart.render();

    static String value(List<EnvVar> env, String name) {
        return env.stream()
                .filter(e -> e.getName().equals(name))
                .findFirst()
                .map(e -> e.getValueFrom() != null
                        ? "fieldRef:" + e.getValueFrom().getFieldRef().getFieldPath()
                        : e.getValue())
                .orElse(null);
    }

    static ContainerPort port(Container c, String name) {
        return c.getPorts().stream()
                .filter(p -> name.equals(p.getName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " has no port named " + name));
    }

    static boolean matches(LabelSelector selector, Map<String, String> labels) {
        assertThat(selector.getMatchExpressions())
                .as("only matchLabels are expected")
                .isNullOrEmpty();
        return labels.entrySet().containsAll(selector.getMatchLabels().entrySet());
    }

    @Test
    void defaults_workloadSelectors_matchTheirOwnPodsOnly() {
        Deployment op = chart.only(Deployment.class);
        DaemonSet ds = chart.only(DaemonSet.class);
        Map<String, String> opPod = op.getSpec().getTemplate().getMetadata().getLabels();
        Map<String, String> agentPod = ds.getSpec().getTemplate().getMetadata().getLabels();
        assertThat(matches(op.getSpec().getSelector(), opPod)).isTrue();
        assertThat(matches(ds.getSpec().getSelector(), agentPod)).isTrue();
        assertThat(matches(op.getSpec().getSelector(), agentPod)).isFalse();
        assertThat(matches(ds.getSpec().getSelector(), opPod)).isFalse();
        assertThat(matches(chart.only(PodDisruptionBudget.class).getSpec().getSelector(), opPod))
                .isTrue();
        assertThat(agentPod)
                .containsEntry("app.kubernetes.io/component", "node-agent")
                .containsEntry("app.kubernetes.io/instance", RenderedChart.RELEASE);
    }

    @Test
    void defaults_webhook_failsOpenQuickly_onPodCreationOnly() {
        MutatingWebhookConfiguration cfg = chart.only(MutatingWebhookConfiguration.class);
        assertThat(cfg.getMetadata().getName()).isEqualTo("mithril");
        assertThat(cfg.getWebhooks())
                .extracting(MutatingWebhook::getName)
                .containsExactly("pods.mithril.io", "ephemeral.mithril.io");
        MutatingWebhook w = cfg.getWebhooks().get(0);
        assertThat(w.getName()).isEqualTo("pods.mithril.io");
        assertThat(w.getFailurePolicy()).isEqualTo("Ignore");
        assertThat(w.getTimeoutSeconds()).isEqualTo(3);
        assertThat(w.getSideEffects()).isEqualTo("None");
        assertThat(w.getAdmissionReviewVersions()).containsExactly("v1");
        assertThat(w.getReinvocationPolicy()).isEqualTo("IfNeeded");
        assertThat(w.getRules()).singleElement().satisfies(r -> {
            assertThat(r.getApiGroups()).containsExactly("");
            assertThat(r.getApiVersions()).containsExactly("v1");
            assertThat(r.getOperations()).containsExactly("CREATE");
            assertThat(r.getResources()).containsExactly("pods");
        });
        assertThat(w.getClientConfig().getService().getPath()).isEqualTo("/mutate-pods");
        assertThat(w.getClientConfig().getService().getNamespace()).isEqualTo(NAMESPACE);
        assertThat(w.getClientConfig().getCaBundle()).as("nothing live to keep").isNull();
        assertThat(w.getObjectSelector()).isNull();
        assertThat(cfg.getMetadata().getAnnotations()).isNullOrEmpty();
    }

    @Test
    void defaults_namespaceSelector_excludesSystemNamespacesAndTheRelease() {
        LabelSelector ns = chart.only(MutatingWebhookConfiguration.class)
                .getWebhooks()
                .get(0)
                .getNamespaceSelector();
        assertThat(ns.getMatchLabels()).isNullOrEmpty();
        assertThat(ns.getMatchExpressions()).singleElement().satisfies(e -> {
            assertThat(e.getKey()).isEqualTo("kubernetes.io/metadata.name");
            assertThat(e.getOperator()).isEqualTo("NotIn");
            assertThat(e.getValues())
                    .containsExactlyInAnyOrder("kube-system", "kube-public", "kube-node-lease", NAMESPACE);
        });
    }

    @Test
    void defaults_webhookService_reachesTheOperatorsHttpsPort() {
        MutatingWebhook w =
                chart.only(MutatingWebhookConfiguration.class).getWebhooks().get(0);
        Service svc = chart.get(Service.class, w.getClientConfig().getService().getName());
        ServicePort sp = svc.getSpec().getPorts().stream()
                .filter(p -> p.getPort() == 443)
                .findFirst()
                .orElseThrow();
        assertThat(w.getClientConfig().getService().getPort()).isEqualTo(443);
        assertThat(sp.getTargetPort().getStrVal()).isEqualTo("https");
        Container op = chart.operator();
        assertThat(port(op, "https").getContainerPort()).isEqualTo(8443);
        assertThat(chart.operatorFlags())
                .containsEntry("--listen", "0.0.0.0:8443")
                .containsEntry("--service", svc.getMetadata().getName());
        Map<String, String> opPod = chart.only(Deployment.class)
                .getSpec()
                .getTemplate()
                .getMetadata()
                .getLabels();
        assertThat(opPod.entrySet()).containsAll(svc.getSpec().getSelector().entrySet());
        for (var probe : List.of(op.getLivenessProbe(), op.getReadinessProbe())) {
            assertThat(probe.getHttpGet().getPath()).isEqualTo("/healthz");
            assertThat(probe.getHttpGet().getScheme()).isEqualTo("HTTPS");
            assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("https");
        }
    }

    @Test
    void defaults_operator_meetsTheRestrictedProfile() {
        PodSpec pod = chart.only(Deployment.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getRunAsUser()).isNotZero();
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        SecurityContext sc = chart.operator().getSecurityContext();
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
        assertThat(sc.getRunAsNonRoot()).isTrue();
        assertThat(sc.getPrivileged()).isNotEqualTo(Boolean.TRUE);
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(pod.getVolumes()).allSatisfy(v -> assertThat(v.getHostPath()).isNull());
        assertThat(pod.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
        assertThat(chart.operator().getVolumeMounts())
                .extracting(VolumeMount::getMountPath)
                .contains("/tmp");
    }

    @Test
    void defaults_operator_twoReplicasElectingByPodName() {
        Deployment op = chart.only(Deployment.class);
        assertThat(op.getSpec().getReplicas()).isEqualTo(2);
        assertThat(chart.only(PodDisruptionBudget.class)
                        .getSpec()
                        .getMinAvailable()
                        .getIntVal())
                .isEqualTo(1);
        List<EnvVar> env = chart.operator().getEnv();
        assertThat(value(env, "POD_NAME")).isEqualTo("fieldRef:metadata.name");
        assertThat(value(env, "POD_NAMESPACE")).isEqualTo("fieldRef:metadata.namespace");
        assertThat(chart.operatorFlags())
                .doesNotContainKeys(
                        "--no-leader-election", "--identity", "--namespace", "--tls-dir", "--no-server-side-apply");
        assertThat(op.getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo("mithril-operator");
        assertThat(chart.operator().getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(chart.operator().getImage()).isEqualTo("ghcr.io/mithril-io/mithril-operator:0.1.0");
    }

    @Test
    void defaults_agent_keepsOnlyChownFownerDacOverride() {
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        SecurityContext sc = chart.agent().getSecurityContext();
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(sc.getCapabilities().getAdd()).containsExactlyInAnyOrder("CHOWN", "FOWNER", "DAC_OVERRIDE");
        assertThat(sc.getPrivileged()).isNotEqualTo(Boolean.TRUE);
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
        assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(pod.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getHostIPC()).isNotEqualTo(Boolean.TRUE);
        Volume tmp = pod.getVolumes().stream()
                .filter(v -> v.getEmptyDir() != null)
                .findFirst()
                .orElseThrow();
        assertThat(chart.agent().getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo(tmp.getName());
            assertThat(m.getMountPath()).isEqualTo("/tmp");
        });
    }

    @Test
    void defaults_agent_hostPathDirectoryOrCreate_mountedAtTheSamePath_holdingRootAndVolumes() {
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        List<Volume> hostPaths = pod.getVolumes().stream()
                .filter(v -> v.getHostPath() != null && v.getName().equals("node-cache"))
                .toList();
        assertThat(hostPaths).singleElement().satisfies(v -> {
            assertThat(v.getHostPath().getPath()).isEqualTo("/var/lib/mithril");
            assertThat(v.getHostPath().getType()).isEqualTo("DirectoryOrCreate");
            assertThat(chart.agent().getVolumeMounts()).anySatisfy(m -> {
                assertThat(m.getName()).isEqualTo(v.getName());
                assertThat(m.getMountPath()).isEqualTo(v.getHostPath().getPath());
                assertThat(m.getReadOnly()).isNotEqualTo(Boolean.TRUE);
            });
        });
        assertThat(chart.agentFlags())
                .containsEntry("--root", "/var/lib/mithril/store")
                .containsEntry("--volumes", "/var/lib/mithril/volumes")
                .containsEntry("--budget", "200Gi");
        assertThat(chart.agent().getArgs())
                .as("--root and --budget are the top-level command's")
                .containsSubsequence("--root=/var/lib/mithril/store", "serve", "--kubernetes");
        assertThat(chart.agent().getArgs()).containsSubsequence("--budget=200Gi", "serve");
    }

    @Test
    void defaults_agent_onGpuNodes_toleratingTheGpuTaint() {
        PodSpec pod = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec();
        assertThat(pod.getNodeSelector()).isNullOrEmpty();
        assertThat(pod.getAffinity()
                        .getNodeAffinity()
                        .getRequiredDuringSchedulingIgnoredDuringExecution()
                        .getNodeSelectorTerms())
                .as("either label, GPU feature discovery's or Node Feature Discovery's")
                .extracting(t -> t.getMatchExpressions().get(0).getKey() + " "
                        + t.getMatchExpressions().get(0).getOperator() + " "
                        + t.getMatchExpressions().get(0).getValues())
                .containsExactly(
                        "nvidia.com/gpu.present In [true]", "feature.node.kubernetes.io/pci-10de.present In [true]");
        assertThat(pod.getTolerations())
                .extracting(Toleration::getKey, Toleration::getOperator, Toleration::getEffect)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("nvidia.com/gpu", "Exists", null),
                        org.assertj.core.groups.Tuple.tuple("sku", "Equal", "NoSchedule"),
                        org.assertj.core.groups.Tuple.tuple("CriticalAddonsOnly", "Exists", null));
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        var strategy = chart.only(DaemonSet.class).getSpec().getUpdateStrategy();
        assertThat(strategy.getType()).isEqualTo("RollingUpdate");
        assertThat(strategy.getRollingUpdate().getMaxUnavailable().getIntVal()).isEqualTo(1);
        assertThat(strategy.getRollingUpdate().getMaxSurge().getIntVal()).isZero();
    }

    @Test
    void defaults_agent_servesOnPortHttp_withProbes_andItsNodeName() {
        Container agent = chart.agent();
        assertThat(port(agent, "http").getContainerPort()).isEqualTo(9464);
        assertThat(chart.agentFlags())
                .containsEntry("--listen", "0.0.0.0:9464")
                .containsEntry("--kubernetes", "")
                .containsEntry("--node-name", "$(NODE_NAME)");
        assertThat(value(agent.getEnv(), "NODE_NAME")).isEqualTo("fieldRef:spec.nodeName");
        assertThat(agent.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
        assertThat(agent.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
        assertThat(agent.getLivenessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
        assertThat(agent.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
        assertThat(agent.getImage()).isEqualTo("ghcr.io/mithril-io/mithril-node-agent:0.1.0");
        assertThat(chart.agentFlags())
                .doesNotContainKeys("--device-class", "--gpu-product", "--no-node-field-selector");
    }

    @Test
    void defaults_operatorFlags_pointAtWhatTheChartRendersForTheAgent() {
        Map<String, String> op = chart.operatorFlags();
        assertThat(op.get("--host-path")).isEqualTo(chart.agentFlags().get("--volumes"));
        Map<String, String> selector = RenderedChart.parseEqualitySelector(op.get("--agent-selector"));
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
        assertThat(agentPod.entrySet()).containsAll(selector.entrySet());
        assertThat(opPod.entrySet().containsAll(selector.entrySet()))
                .as("the operator's pods are not agents")
                .isFalse();
        assertThat(selector).containsEntry("app.kubernetes.io/instance", RenderedChart.RELEASE);
        assertThat(op.get("--agent-port"))
                .isEqualTo(String.valueOf(port(chart.agent(), "http").getContainerPort()));
        assertThat(op.get("--webhook-config"))
                .isEqualTo(chart.only(MutatingWebhookConfiguration.class)
                        .getMetadata()
                        .getName());
        assertThat(op.get("--wait-image"))
                .as("the operator's own image")
                .isEqualTo(chart.operator().getImage());
        assertThat(op.get("--wait-run-as-user")).as("the image's non-root user").isEmpty();
        assertThat(chart.only(DaemonSet.class).getMetadata().getNamespace())
                .as("the operator looks for agents in its own namespace")
                .isEqualTo(chart.only(Deployment.class).getMetadata().getNamespace());
    }
}
