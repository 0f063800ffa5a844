package io.mithril.chart;

import static io.mithril.chart.RenderedChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** certManager.enabled: cert-manager issues the serving certificate; the operator reads it from files. */
class ChartCertManagerTest {

    private final RenderedChart chart = RenderedChart.render("certManager: {enabled: true}");

    @SuppressWarnings("unchecked")
    static <T> T at(GenericKubernetesResource r, String... path) {
        Object o = r.getAdditionalProperties();
        for (String p : path) {
            o = ((Map<String, Object>) o).get(p);
        }
        return (T) o;
    }

    static GenericKubernetesResource named(List<GenericKubernetesResource> list, String name) {
        return list.stream()
                .filter(r -> r.getMetadata().getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + name));
    }

    @Test
    void certManager_chainsSelfSignedIssuer_caCertificate_caIssuer_servingCertificateForTheServiceNames() {
        List<GenericKubernetesResource> issuers = chart.generic("Issuer");
        List<GenericKubernetesResource> certs = chart.generic("Certificate");
        assertThat(issuers).hasSize(2);
        assertThat(certs).hasSize(2);
        GenericKubernetesResource selfSigned = issuers.stream()
                .filter(i -> at(i, "spec", "selfSigned") != null)
                .findFirst()
                .orElseThrow();
        GenericKubernetesResource caCert = certs.stream()
                .filter(c -> Boolean.TRUE.equals(at(c, "spec", "isCA")))
                .findFirst()
                .orElseThrow();
        assertThat((String) at(caCert, "spec", "issuerRef", "name"))
                .isEqualTo(selfSigned.getMetadata().getName());
        GenericKubernetesResource caIssuer = issuers.stream()
                .filter(i -> at(i, "spec", "ca") != null)
                .findFirst()
                .orElseThrow();
        assertThat((String) at(caIssuer, "spec", "ca", "secretName")).isEqualTo(at(caCert, "spec", "secretName"));
        GenericKubernetesResource serving =
                certs.stream().filter(c -> c != caCert).findFirst().orElseThrow();
        assertThat((String) at(serving, "spec", "issuerRef", "name"))
                .isEqualTo(caIssuer.getMetadata().getName());
        String svc = chart.only(MutatingWebhookConfiguration.class)
                .getWebhooks()
                .get(0)
                .getClientConfig()
                .getService()
                .getName();
        assertThat(chart.get(Service.class, svc)).isNotNull();
        assertThat((List<String>) at(serving, "spec", "dnsNames"))
                .contains(svc, svc + "." + NAMESPACE, svc + "." + NAMESPACE + ".svc");
        assertThat(issuers)
                .allSatisfy(i -> assertThat(i.getMetadata().getNamespace()).isEqualTo(NAMESPACE));
    }

    @Test
    void certManager_operatorReadsTheServingSecretFromItsTlsDir() {
        GenericKubernetesResource serving = chart.generic("Certificate").stream()
                .filter(c -> !Boolean.TRUE.equals(at(c, "spec", "isCA")))
                .findFirst()
                .orElseThrow();
        PodSpec pod = chart.only(Deployment.class).getSpec().getTemplate().getSpec();
        Volume tls = pod.getVolumes().stream()
                .filter(v -> v.getSecret() != null)
                .findFirst()
                .orElseThrow();
        assertThat(tls.getSecret().getSecretName()).isEqualTo(at(serving, "spec", "secretName"));
        String tlsDir = chart.operatorFlags().get("--tls-dir");
        assertThat(tlsDir).isNotBlank();
        assertThat(chart.operator().getVolumeMounts()).anySatisfy(m -> {
            assertThat(m.getName()).isEqualTo(tls.getName());
            assertThat(m.getMountPath()).isEqualTo(tlsDir);
            assertThat(m.getReadOnly()).isTrue();
        });
    }

    @Test
    void certManager_caInjectorAnnotation_namesTheServingCertificate() {
        GenericKubernetesResource serving = chart.generic("Certificate").stream()
                .filter(c -> !Boolean.TRUE.equals(at(c, "spec", "isCA")))
                .findFirst()
                .orElseThrow();
        MutatingWebhookConfiguration cfg = chart.only(MutatingWebhookConfiguration.class);
        assertThat(cfg.getMetadata().getAnnotations())
                .containsEntry(
                        "cert-manager.io/inject-ca-from",
                        NAMESPACE + "/" + serving.getMetadata().getName());
        assertThat(cfg.getWebhooks().get(0).getClientConfig().getCaBundle()).isNull();
    }

    @Test
    void defaults_noCertManagerObjects_noTlsDir() {
        RenderedChart defaults = RenderedChart.render();
        assertThat(defaults.generic("Issuer")).isEmpty();
        assertThat(defaults.generic("Certificate")).isEmpty();
        assertThat(defaults.operatorFlags()).doesNotContainKey("--tls-dir");
        assertThat(defaults.only(Deployment.class)
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getVolumes())
                .allSatisfy(v -> assertThat(v.getSecret()).isNull());
    }
}
