package io.mithril.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import org.junit.jupiter.api.Test;

/** The remote tier's values: flags, the key Secret mounted read-only, credentials from a Secret or the default chain. */
class ChartRemoteTest {

    @Test
    void noBucket_noRemoteFlags_noKeyVolume_noCredentials() {
        RenderedChart chart = RenderedChart.render();
        assertThat(chart.agent().getArgs()).noneMatch(a -> a.startsWith("--remote"));
        assertThat(chart.agent().getEnvFrom()).isEmpty();
        assertThat(chart.agent().getVolumeMounts()).noneMatch(m -> m.getName().equals("remote-key"));
    }

    @Test
    void aBucket_withItsKeySecretAndCredentialsSecret_reachesTheAgent() {
        RenderedChart chart = RenderedChart.render("""
                agent:
                  remote:
                    bucket: s3://compile-caches/prod
                    endpoint: http://minio.storage:9000
                    region: eu-west-1
                    checksums: when-required
                    credentialsSecret: s3-creds
                    keySecret: mithril-remote-key
                    prewarmBytes: 2Gi
                    uploadInterval: 1m
                """);
        assertThat(chart.agentFlags())
                .containsEntry("--remote", "s3://compile-caches/prod")
                .containsEntry("--remote-endpoint", "http://minio.storage:9000")
                .containsEntry("--remote-checksums", "when-required")
                .containsEntry("--remote-key-file", "/etc/mithril/remote/key")
                .containsEntry("--remote-prewarm-bytes", "2Gi")
                .containsEntry("--remote-upload-interval", "1m");
        assertThat(chart.agent().getArgs()).containsSubsequence("serve", "--remote=s3://compile-caches/prod");
        assertThat(chart.agent().getEnvFrom())
                .singleElement()
                .satisfies(e -> assertThat(e.getSecretRef().getName()).isEqualTo("s3-creds"));
        assertThat(chart.agent().getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("AWS_REGION");
            assertThat(e.getValue()).isEqualTo("eu-west-1");
        });
        assertThat(chart.agent().getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo("remote-key");
            assertThat(m.getMountPath()).isEqualTo("/etc/mithril/remote");
            assertThat(m.getReadOnly()).isTrue();
        });
        Volume key = chart.only(DaemonSet.class).getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals("remote-key"))
                .findFirst()
                .orElseThrow();
        assertThat(key.getSecret().getSecretName()).isEqualTo("mithril-remote-key");
        assertThat(key.getSecret().getDefaultMode()).isEqualTo(0400);
        assertThat(key.getSecret().getItems()).singleElement().satisfies(i -> {
            assertThat(i.getKey()).isEqualTo("key");
            assertThat(i.getPath()).isEqualTo("key");
        });
    }

    @Test
    void withoutACredentialsSecret_theDefaultChainIsLeft_forIrsaOrWorkloadIdentity() {
        RenderedChart chart = RenderedChart.render("""
                agent:
                  remote: {bucket: s3://b/p, keySecret: k}
                  serviceAccount:
                    annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/mithril-agent"}
                """);
        assertThat(chart.agent().getEnvFrom()).isEmpty();
        assertThat(chart.agent().getEnv()).noneMatch(e -> e.getName().startsWith("AWS_"));
        assertThat(chart.agentFlags()).containsEntry("--remote", "s3://b/p").doesNotContainKey("--remote-endpoint");
    }

    @Test
    void aBucket_givesTheAgentsTheRetentionLease_inTheirNamespaceOnly_andTheUploadAndRetentionSettings() {
        RenderedChart chart = RenderedChart.render("""
                agent:
                  remote:
                    bucket: s3://b/p
                    keySecret: k
                    uploadBandwidth: 50Mi
                    uploadConcurrency: 8
                    retention: {interval: 30m, grace: 2h, lease: 20m}
                """);
        assertThat(chart.agentFlags())
                .containsEntry("--remote-upload-bandwidth", "50Mi")
                .containsEntry("--remote-upload-concurrency", "8")
                .containsEntry("--remote-retention-interval", "30m")
                .containsEntry("--remote-retention-grace", "2h")
                .containsEntry("--remote-retention-lease", "20m");
        assertThat(chart.agent().getEnv()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("POD_NAMESPACE");
            assertThat(e.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("metadata.namespace");
        });
        Role role = chart.get(Role.class, "mithril-node-agent-remote-retention");
        assertThat(ChartRbacTest.grants(role.getRules()))
                .containsExactlyInAnyOrder(
                        "coordination.k8s.io|leases|get|mithril-remote-retention",
                        "coordination.k8s.io|leases|update|mithril-remote-retention",
                        "coordination.k8s.io|leases|create|");
        RoleBinding binding = chart.get(RoleBinding.class, "mithril-node-agent-remote-retention");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects())
                .singleElement()
                .satisfies(s -> assertThat(s.getName())
                        .isEqualTo(chart.only(DaemonSet.class)
                                .getSpec()
                                .getTemplate()
                                .getSpec()
                                .getServiceAccountName()));

        RenderedChart defaults = RenderedChart.render("agent: {remote: {bucket: s3://b/p, keySecret: k}}");
        assertThat(defaults.agentFlags())
                .doesNotContainKey("--remote-upload-bandwidth")
                .containsEntry("--remote-upload-concurrency", "4")
                .containsEntry("--remote-retention-interval", "1h");
        assertThat(RenderedChart.render().all(Role.class))
                .as("no bucket, no Lease grant")
                .noneMatch(r -> r.getMetadata().getName().contains("retention"));
    }

    @Test
    void aBucketWithoutAKeySecret_failsTheRender() {
        assertThatThrownBy(() -> RenderedChart.render("agent: {remote: {bucket: s3://b/p}}"))
                .hasMessageContaining("agent.remote.keySecret is required");
    }
}
