package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The uninstall cleanup: post-delete hooks that are off by default, and the node script run with a real sh.
 * {@code helm template} (helm-java) leaves hooks out of what it renders, so the objects are rendered from a
 * copy of the chart whose cleanup template has its hook annotations taken out; the annotations are then
 * checked in the template file itself.
 */
class ChartCleanupTest {

    static final Path HOOK = RenderedChart.CHART.resolve("templates/cleanup-hook.yaml");

    @TempDir
    static Path copies;

    static DaemonSet cleanupDaemonSet(RenderedChart chart) {
        return chart.get(DaemonSet.class, "mithril-cleanup");
    }

    /** The chart with cleanup on, the hooks rendered as plain objects. */
    static RenderedChart renderHooks(String values) throws Exception {
        Path copy = RenderedChart.copyChart(Files.createTempDirectory(copies, "chart"));
        Path hook = copy.resolve("templates/cleanup-hook.yaml");
        Files.writeString(
                hook,
                Files.readString(hook)
                        .replaceAll("(?m)^\\s*helm\\.sh/hook.*$", "")
                        .replace("  annotations:\n", ""));
        return RenderedChart.render(
                copy, RenderedChart.RELEASE, values, RenderedChart.KUBE_VERSION, java.util.Map.of());
    }

    @Test
    void defaults_noCleanupHooks() throws Exception {
        RenderedChart chart = renderHooks(null);
        assertThat(chart.all(Job.class)).isEmpty();
        assertThat(chart.all(DaemonSet.class))
                .singleElement()
                .satisfies(d -> assertThat(d.getMetadata().getName()).isEqualTo("mithril-node-agent"));
    }

    @Test
    void cleanupOn_postDeleteHooks_inWeightOrder_onTheAgentsNodes_deletingTheWebhookSecret() throws Exception {
        String template = Files.readString(HOOK);
        assertThat(template.split("\n---\n"))
                .as("every object a post-delete hook, deleted once it succeeded")
                .hasSize(5)
                .allSatisfy(doc -> assertThat(doc)
                        .contains("helm.sh/hook: post-delete")
                        .contains("helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded"));
        assertThat(template)
                .containsSubsequence(
                        "kind: Role",
                        "hook-weight: \"-10\"",
                        "kind: DaemonSet",
                        "hook-weight: \"0\"",
                        "kind: Job",
                        "hook-weight: \"10\"");
        RenderedChart chart = renderHooks("cleanup: {enabled: true}");
        DaemonSet ds = cleanupDaemonSet(chart);
        Job job = chart.only(Job.class);
        Role role = chart.get(Role.class, "mithril-cleanup");
        var agentPod = chart.get(DaemonSet.class, "mithril-node-agent")
                .getSpec()
                .getTemplate()
                .getSpec();
        assertThat(ds.getSpec().getTemplate().getSpec().getAffinity()).isEqualTo(agentPod.getAffinity());
        assertThat(ds.getSpec().getTemplate().getSpec().getTolerations()).isEqualTo(agentPod.getTolerations());
        assertThat(RenderedChart.flags(job.getSpec()
                        .getTemplate()
                        .getSpec()
                        .getContainers()
                        .get(0)
                        .getArgs()))
                .containsEntry("--daemonset", "mithril-cleanup")
                .containsEntry("--secret", "mithril-webhook-tls");
        assertThat(job.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs())
                .startsWith("cleanup");
        assertThat(ChartRbacTest.grants(role.getRules()))
                .containsExactlyInAnyOrder(
                        "apps|daemonsets|get|mithril-cleanup", "|secrets|delete|mithril-webhook-tls");
    }

    @Test
    void nodeScript_removesTheStoreAndViewsOfGonePods_keepsViewsOfRunningOnes(@TempDir Path tmp) throws Exception {
        Path host = tmp.resolve("mithril");
        Path kubelet = tmp.resolve("kubelet-pods");
        String running = "11111111-1111-1111-1111-111111111111";
        String gone = "22222222-2222-2222-2222-222222222222";
        Files.createDirectories(host.resolve("store/blobs"));
        Files.writeString(host.resolve("store/blobs/x"), "blob");
        Files.createDirectories(host.resolve("volumes").resolve(running).resolve("inductor"));
        Files.createDirectories(host.resolve("volumes").resolve(gone).resolve("inductor"));
        Files.createDirectories(kubelet.resolve(running));
        RenderedChart chart = renderHooks("cleanup: {enabled: true, delaySeconds: 0}\nagent: {hostPath: " + host
                + ", kubeletPodsPath: " + kubelet + "}");
        Container c = cleanupDaemonSet(chart)
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0);
        String script = c.getArgs()
                .get(0)
                .replace("touch /tmp/done", "touch " + tmp.resolve("done"))
                .replace("exec sleep 2147483647", "exit 0");
        Process p =
                new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(host.resolve("store")).doesNotExist();
        assertThat(host.resolve("volumes").resolve(gone)).doesNotExist();
        assertThat(host.resolve("volumes").resolve(running).resolve("inductor")).isDirectory();
        assertThat(out).contains("keeping").contains(running).contains("node cleaned");
        assertThat(tmp.resolve("done")).exists();
    }
}
