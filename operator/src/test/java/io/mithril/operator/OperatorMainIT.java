package io.mithril.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.mithril.api.v1alpha1.CompileCache;
import io.mithril.api.v1alpha1.CompileCacheSpec;
import io.mithril.operator.agents.AgentDirectory;
import io.mithril.operator.webhook.Injection;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/**
 * The operator process's parts started together, twice (two replicas), against the mock API server:
 * one Secret and caBundle for both, both serve the webhook with it, one leader reconciles, and when
 * it stops the other takes over.
 */
@EnableKubernetesMockClient(crud = true)
class OperatorMainIT {

    static KubernetesMockServer server;
    static KubernetesClient client;

    static OperatorMain.Settings settings(String identity) {
        return new OperatorMain.Settings(
                "mithril-system",
                new InetSocketAddress("127.0.0.1", 0),
                "mithril-webhook",
                "mithril",
                null,
                AgentDirectory.Config.defaults("mithril-system"),
                Duration.ofSeconds(1),
                new OperatorMain.Lease(
                        identity, Duration.ofSeconds(10), Duration.ofSeconds(7), Duration.ofMillis(500), false),
                Injection.defaults(),
                false);
    }

    static SSLContext trusting(String caPem) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        int i = 0;
        for (var c : CertificateFactory.getInstance("X.509")
                .generateCertificates(new ByteArrayInputStream(caPem.getBytes()))) {
            ks.setCertificateEntry("ca" + i++, (X509Certificate) c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    String holder() {
        Lease l = client.leases()
                .inNamespace("mithril-system")
                .withName("mithril-operator")
                .get();
        return l == null || l.getSpec() == null ? null : l.getSpec().getHolderIdentity();
    }

    @Test
    void twoReplicas_shareOneCertificate_serveTheWebhook_andOneLeaderReconciles() throws Exception {
        // JOSDK asks whether it may use Leases before electing; the mock server cannot answer that review
        server.expect()
                .post()
                .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
                .andReturn(
                        201,
                        new io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder()
                                .withNewMetadata()
                                .endMetadata()
                                .withNewSpec()
                                .withNamespace("mithril-system")
                                .endSpec()
                                .withNewStatus()
                                .withIncomplete(false)
                                .addNewResourceRule()
                                .withApiGroups("coordination.k8s.io")
                                .withResources("leases")
                                .withVerbs("*")
                                .endResourceRule()
                                .endStatus()
                                .build())
                .always();
        client.admissionRegistration()
                .v1()
                .mutatingWebhookConfigurations()
                .resource(new MutatingWebhookConfigurationBuilder()
                        .withNewMetadata()
                        .withName("mithril")
                        .endMetadata()
                        .addNewWebhook()
                        .withName("pods.mithril.io")
                        .withNewClientConfig()
                        .withNewService()
                        .withName("mithril-webhook")
                        .withNamespace("mithril-system")
                        .withPath("/mutate-pods")
                        .endService()
                        .endClientConfig()
                        .withAdmissionReviewVersions("v1")
                        .withSideEffects("None")
                        .withFailurePolicy("Ignore")
                        .endWebhook()
                        .build())
                .create();
        OperatorMain.Running a = OperatorMain.start(client, settings("replica-a"));
        OperatorMain.Running b = OperatorMain.start(client, settings("replica-b"));
        try {
            Secret tls = client.secrets()
                    .inNamespace("mithril-system")
                    .withName("mithril-webhook-tls")
                    .get();
            assertThat(tls).isNotNull();
            String bundle = new String(Base64.getDecoder()
                    .decode(client.admissionRegistration()
                            .v1()
                            .mutatingWebhookConfigurations()
                            .withName("mithril")
                            .get()
                            .getWebhooks()
                            .get(0)
                            .getClientConfig()
                            .getCaBundle()));
            assertThat(bundle).contains("BEGIN CERTIFICATE");
            SSLContext trust = trusting(bundle);
            for (OperatorMain.Running r : new OperatorMain.Running[] {a, b}) {
                // reached on 127.0.0.1, checked for the name the API server uses: the Service's
                HttpsURLConnection c = (HttpsURLConnection)
                        URI.create("https://127.0.0.1:" + r.webhook().port() + "/healthz")
                                .toURL()
                                .openConnection();
                c.setSSLSocketFactory(trust.getSocketFactory());
                c.setHostnameVerifier((host, session) -> {
                    try {
                        return ((X509Certificate) session.getPeerCertificates()[0])
                                .getSubjectAlternativeNames().stream()
                                        .anyMatch(n -> "mithril-webhook.mithril-system.svc".equals(n.get(1)));
                    } catch (Exception e) {
                        return false;
                    }
                });
                assertThat(c.getResponseCode()).isEqualTo(200);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> holder() != null);
            String first = holder();
            assertThat(first).isIn("replica-a", "replica-b");

            CompileCache cc = new CompileCache();
            cc.setMetadata(new ObjectMetaBuilder()
                    .withName("gpt")
                    .withNamespace("team-a")
                    .build());
            cc.setSpec(new CompileCacheSpec());
            client.resource(cc).create();
            await().atMost(Duration.ofSeconds(30)).until(() -> status("gpt") != null && status("gpt") == 1L);

            (first.equals("replica-a") ? a : b).close(); // the leader goes away
            await().atMost(Duration.ofSeconds(30)).until(() -> !first.equals(holder()) && holder() != null);
            CompileCache edited = client.resources(CompileCache.class)
                    .inNamespace("team-a")
                    .withName("gpt")
                    .get();
            edited.getSpec().setBudget("1Gi");
            client.resource(edited).update();
            await().atMost(Duration.ofSeconds(30)).until(() -> status("gpt") == 2L); // the new leader reconciles
        } finally {
            for (OperatorMain.Running r : new OperatorMain.Running[] {a, b}) {
                try {
                    r.close();
                } catch (RuntimeException ignored) {
                    // already closed
                }
            }
        }
    }

    Long status(String name) {
        CompileCache cc = client.resources(CompileCache.class)
                .inNamespace("team-a")
                .withName(name)
                .get();
        return cc == null || cc.getStatus() == null ? null : cc.getStatus().getObservedGeneration();
    }
}
