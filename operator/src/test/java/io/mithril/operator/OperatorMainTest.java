package io.mithril.operator;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The operator's settings as parsed from flags. */
class OperatorMainTest {

    static OperatorMain.Settings parse(String... args) {
        OperatorMain m = new OperatorMain();
        new CommandLine(m).parseArgs(args);
        return m.settings();
    }

    @Test
    void defaults_electALeader_useServerSideApply_andListenOn8443() {
        OperatorMain.Settings s = parse();
        assertThat(s.lease()).isNotNull();
        assertThat(s.lease().exitOnLoss()).isTrue();
        assertThat(s.serverSideApply()).isTrue();
        assertThat(s.listen().getPort()).isEqualTo(8443);
        assertThat(s.injection().hostPath()).isEqualTo("/var/lib/mithril/volumes");
    }

    @Test
    void switches_turnOffWhenSaidSo_andSettingsReachTheirParts() {
        OperatorMain.Settings s = parse(
                "--leader-election=false",
                "--server-side-apply",
                "false",
                "--host-path",
                "/data/mithril/volumes",
                "--wait-image",
                "registry.local/busybox:1.36",
                "--agent-selector",
                "app=agent",
                "--stats-ttl",
                "5");
        assertThat(s.lease()).isNull();
        assertThat(s.serverSideApply()).isFalse();
        assertThat(s.injection().hostPath()).isEqualTo("/data/mithril/volumes");
        assertThat(s.injection().waitImage()).isEqualTo("registry.local/busybox:1.36");
        assertThat(s.agents().labelSelector()).isEqualTo("app=agent");
        assertThat(s.agents().ttl().toSeconds()).isEqualTo(5);
    }

    @Test
    void waitStepAndPodSecurityFlags_reachTheInjection_emptyUidMeansTheImagesOwn() {
        OperatorMain.Settings s = parse(
                "--wait-requests=cpu=20m,memory=8Mi",
                "--wait-limits=cpu=200m,memory=64Mi",
                "--wait-run-as-user=",
                "--wait-pull-secrets=mirror, other",
                "--pod-security-default=baseline",
                "--pod-security-fallback=Skip",
                "--empty-dir-size-limit=30Gi");
        var w = s.injection().waitStep();
        assertThat(w.requests()).containsEntry("cpu", new io.fabric8.kubernetes.api.model.Quantity("20m"));
        assertThat(w.limits()).containsEntry("memory", new io.fabric8.kubernetes.api.model.Quantity("64Mi"));
        assertThat(w.runAsUser()).isNull();
        assertThat(w.pullSecrets()).containsExactly("mirror", "other");
        assertThat(s.injection().podSecurity().defaultLevel()).isEqualTo("baseline");
        assertThat(s.injection().podSecurity().fallback())
                .isEqualTo(io.mithril.operator.webhook.PodSecurity.Fallback.Skip);
        assertThat(s.injection().emptyDirSizeLimit()).isEqualTo("30Gi");
        OperatorMain.Settings d = parse();
        assertThat(d.injection().waitStep().runAsUser()).isEqualTo(65534L);
        assertThat(d.injection().podSecurity().fallback())
                .isEqualTo(io.mithril.operator.webhook.PodSecurity.Fallback.EmptyDir);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> parse("--wait-limits=gpu=1"))
                .hasMessageContaining("--wait-limits");
    }
}
