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
        OperatorMain.Settings s = parse("--leader-election=false", "--server-side-apply", "false", "--host-path", "/data/mithril/volumes",
                "--wait-image", "registry.local/busybox:1.36", "--agent-selector", "app=agent", "--stats-ttl", "5");
        assertThat(s.lease()).isNull();
        assertThat(s.serverSideApply()).isFalse();
        assertThat(s.injection().hostPath()).isEqualTo("/data/mithril/volumes");
        assertThat(s.injection().waitImage()).isEqualTo("registry.local/busybox:1.36");
        assertThat(s.agents().labelSelector()).isEqualTo("app=agent");
        assertThat(s.agents().ttl().toSeconds()).isEqualTo(5);
    }
}
