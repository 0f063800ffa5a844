package io.mithril.operator.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link CertificateManager} against fabric8's mock API server in CRUD mode (optimistic concurrency included). */
@EnableKubernetesMockClient(crud = true)
class CertificateManagerIT {

    static final String NS = "mithril-system";
    static final CertificateManager.Config CONFIG = CertificateManager.Config.defaults(NS, "mithril-webhook");

    KubernetesMockServer server;
    KubernetesClient client;
    TestClock clock;

    @BeforeEach
    void setUp() {
        clock = TestClock.now();
    }

    CertificateManager manager() {
        return new CertificateManager(client, CONFIG, clock);
    }

    void createWebhookConfiguration() {
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
                        .withNamespace(NS)
                        .withPath("/mutate-pods")
                        .endService()
                        .endClientConfig()
                        .withSideEffects("None")
                        .withAdmissionReviewVersions("v1")
                        .endWebhook()
                        .addNewWebhook()
                        .withName("pods-fallback.mithril.io")
                        .withNewClientConfig()
                        .withCaBundle("c3RhbGU=")
                        .withNewService()
                        .withName("mithril-webhook")
                        .withNamespace(NS)
                        .withPath("/mutate-pods")
                        .endService()
                        .endClientConfig()
                        .withSideEffects("None")
                        .withAdmissionReviewVersions("v1")
                        .endWebhook()
                        .build())
                .create();
    }

    Secret secret() {
        return client.secrets().inNamespace(NS).withName(CONFIG.secretName()).get();
    }

    static String pem(Secret s, String key) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.US_ASCII);
    }

    List<String> caBundles() {
        MutatingWebhookConfiguration mwc = client.admissionRegistration()
                .v1()
                .mutatingWebhookConfigurations()
                .withName("mithril")
                .get();
        List<String> out = new ArrayList<>();
        for (MutatingWebhook h : mwc.getWebhooks()) {
            String b = h.getClientConfig().getCaBundle();
            out.add(b == null ? null : new String(Base64.getDecoder().decode(b), StandardCharsets.US_ASCII));
        }
        return out;
    }

    /** The requests the server saw since the last call, as "METHOD path". */
    List<String> drainRequests() throws InterruptedException {
        List<String> out = new ArrayList<>();
        for (RecordedRequest r = server.takeRequest(10, TimeUnit.MILLISECONDS);
                r != null;
                r = server.takeRequest(10, TimeUnit.MILLISECONDS)) {
            out.add(r.getMethod() + " " + r.getPath());
        }
        return out;
    }

    static BigInteger serial(TlsMaterial m) {
        return m.certificate().getSerialNumber();
    }

    static X509Certificate caOf(Secret s) throws Exception {
        return Pem.parseCertificates(pem(s, TlsSecret.CA_CRT)).get(0);
    }

    @Test
    void ensure_noSecret_createsCaAndServingCert_andPatchesCaBundle() throws Exception {
        createWebhookConfiguration();
        TlsMaterial m = manager().ensure();

        Secret s = secret();
        assertThat(s.getType()).isEqualTo("kubernetes.io/tls");
        assertThat(s.getData()).containsOnlyKeys("tls.crt", "tls.key", "ca.crt", "ca.key");
        X509Certificate ca = caOf(s);
        X509Certificate serving = Pem.parseCertificates(pem(s, "tls.crt")).get(0);
        serving.verify(ca.getPublicKey());
        assertThat(serving).isEqualTo(m.certificate());
        assertThat(Pem.matches(Pem.parsePrivateKey(pem(s, "tls.key")), serving)).isTrue();
        assertThat(Pem.matches(Pem.parsePrivateKey(pem(s, "ca.key")), ca)).isTrue();
        assertThat(sans(serving))
                .containsExactlyInAnyOrder(
                        "mithril-webhook", "mithril-webhook.mithril-system", "mithril-webhook.mithril-system.svc");
        assertThat(Duration.between(clock.instant(), serving.getNotAfter().toInstant()))
                .isBetween(Duration.ofDays(364), Duration.ofDays(366));
        assertThat(Duration.between(clock.instant(), ca.getNotAfter().toInstant()))
                .isGreaterThan(Duration.ofDays(4 * 365));
        assertThat(m.caBundlePem()).isEqualTo(pem(s, "ca.crt"));
        assertThat(caBundles()).containsExactly(m.caBundlePem(), m.caBundlePem());
        assertThat(m.sslContext().createSSLEngine()).isNotNull();
    }

    @Test
    void ensure_secondRunWithNothingChanged_writesNothing() throws Exception {
        createWebhookConfiguration();
        CertificateManager mgr = manager();
        TlsMaterial first = mgr.ensure();
        String version = secret().getMetadata().getResourceVersion();
        assertThat(drainRequests()).anyMatch(r -> r.startsWith("POST")).anyMatch(r -> r.startsWith("PATCH"));

        clock.advance(Duration.ofDays(300));
        TlsMaterial second = mgr.ensure();

        assertThat(drainRequests()).isNotEmpty().allMatch(r -> r.startsWith("GET "));
        assertThat(second.sameAs(first)).isTrue();
        assertThat(secret().getMetadata().getResourceVersion()).isEqualTo(version);
    }

    @Test
    void ensure_servingCertWithin30DaysOfExpiry_rotatesIt_andKeepsTheCa() throws Exception {
        createWebhookConfiguration();
        TlsMaterial first = manager().ensure();
        X509Certificate ca = caOf(secret());
        drainRequests();

        clock.advance(Duration.ofDays(365 - 29));
        TlsMaterial second = manager().ensure();

        assertThat(serial(second)).isNotEqualTo(serial(first));
        assertThat(second.certificate().getNotAfter())
                .isAfter(first.certificate().getNotAfter());
        second.certificate().verify(ca.getPublicKey());
        assertThat(caOf(secret())).isEqualTo(ca);
        assertThat(second.caBundlePem()).isEqualTo(first.caBundlePem());
        List<String> requests = drainRequests();
        assertThat(requests).anyMatch(r -> r.startsWith("PUT ") && r.contains("/secrets/"));
        assertThat(requests).noneMatch(r -> r.startsWith("PATCH")); // the bundle did not change
    }

    @Test
    void ensure_serviceRenamed_reissuesForTheNewNames_withTheSameCa() throws Exception {
        TlsMaterial first = manager().ensure();
        X509Certificate ca = caOf(secret());

        CertificateManager.Config renamed = CertificateManager.Config.defaults(NS, "mithril-webhook-v2");
        TlsMaterial second = new CertificateManager(client, renamed, clock).ensure();

        assertThat(serial(second)).isNotEqualTo(serial(first));
        assertThat(sans(second.certificate())).contains("mithril-webhook-v2.mithril-system.svc");
        assertThat(caOf(secret())).isEqualTo(ca);
    }

    @Test
    void ensure_caNearExpiry_makesNewCa_andBundleHoldsOldAndNewUntilTheOldExpires() throws Exception {
        createWebhookConfiguration();
        TlsMaterial first = manager().ensure();
        X509Certificate oldCa = caOf(secret());

        clock.advance(
                Duration.ofDays(5 * 365 - 200)); // the CA has 200 days left: less than a serving certificate's year
        TlsMaterial second = manager().ensure();

        X509Certificate newCa = caOf(secret());
        assertThat(newCa).isNotEqualTo(oldCa);
        second.certificate().verify(newCa.getPublicKey());
        assertThat(Pem.parseCertificates(second.caBundlePem())).containsExactly(newCa, oldCa);
        assertThat(Pem.parseCertificates(pem(secret(), TlsSecret.PREVIOUS_CA_CRT)))
                .containsExactly(oldCa);
        assertThat(caBundles()).containsOnly(second.caBundlePem());
        assertThat(serial(second)).isNotEqualTo(serial(first));

        clock.advance(Duration.ofDays(201)); // the old CA has expired: it leaves the bundle
        TlsMaterial third = manager().ensure();
        assertThat(Pem.parseCertificates(third.caBundlePem())).containsExactly(newCa);
        assertThat(caBundles()).containsOnly(third.caBundlePem());
        assertThat(serial(third)).isEqualTo(serial(second));
    }

    @Test
    void ensure_caAlreadyExpired_makesNewCa_andLeavesTheDeadOneOutOfTheBundle() throws Exception {
        manager().ensure();
        X509Certificate oldCa = caOf(secret());

        clock.advance(Duration.ofDays(5 * 365 + 1));
        TlsMaterial m = manager().ensure();

        assertThat(caOf(secret())).isNotEqualTo(oldCa);
        assertThat(Pem.parseCertificates(m.caBundlePem())).containsExactly(caOf(secret()));
        assertThat(secret().getData()).doesNotContainKey(TlsSecret.PREVIOUS_CA_CRT);
    }

    @Test
    void ensure_malformedSecret_isReplaced_andTheLogSaysWhy() throws Exception {
        client.secrets()
                .inNamespace(NS)
                .resource(new SecretBuilder()
                        .withNewMetadata()
                        .withName(CONFIG.secretName())
                        .endMetadata()
                        .withType("kubernetes.io/tls")
                        .withData(Map.of(
                                "tls.crt",
                                b64("not a certificate"),
                                "tls.key",
                                b64("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")))
                        .build())
                .create();

        String log = capturingStderr(() -> manager().ensure());

        assertThat(log)
                .contains("Secret mithril-system/mithril-webhook-tls is malformed")
                .contains("ca.crt")
                .contains("updated")
                .contains("no usable CA");
        Secret s = secret();
        assertThat(s.getData()).containsKeys("tls.crt", "tls.key", "ca.crt", "ca.key");
        Pem.parseCertificates(pem(s, "tls.crt")).get(0).verify(caOf(s).getPublicKey());
    }

    @Test
    void ensure_servingKeyGarbled_reissuesTheServingCert_withTheSameCa() throws Exception {
        TlsMaterial first = manager().ensure();
        Secret s = secret();
        X509Certificate ca = caOf(s);
        s.getData().put("tls.key", b64("garbage"));
        client.secrets().inNamespace(NS).resource(s).update();

        String log = capturingStderr(() -> manager().ensure());

        assertThat(log).contains("is malformed (serving certificate: no PEM private key)");
        assertThat(caOf(secret())).isEqualTo(ca);
        TlsMaterial now = manager().ensure();
        assertThat(serial(now)).isNotEqualTo(serial(first));
        now.certificate().verify(ca.getPublicKey());
    }

    @Test
    void ensure_otherReplicaCreatesTheSecretBetweenReadAndWrite_adoptsItsSecret() throws Exception {
        KubernetesClient otherClient = server.createClient();
        CertificateManager other = new CertificateManager(otherClient, CONFIG, TestClock.now());
        TlsMaterial[] theirs = new TlsMaterial[1];
        clock.onNextRead(() -> theirs[0] = ensureUnchecked(other)); // after our GET found nothing, before our POST

        String log = capturingStderr(() -> manager().ensure());
        TlsMaterial ours = manager().ensure();

        assertThat(log).contains("written by another replica");
        assertThat(theirs[0]).isNotNull();
        assertThat(ours.sameAs(theirs[0])).isTrue();
        assertThat(Pem.parseCertificates(pem(secret(), "tls.crt")).get(0)).isEqualTo(theirs[0].certificate());
    }

    @Test
    void ensure_otherReplicaRotatesBetweenReadAndWrite_adoptsItsRotation() throws Exception {
        manager().ensure();
        clock.advance(Duration.ofDays(350));
        TestClock otherClock = new TestClock(clock.instant());
        CertificateManager other = new CertificateManager(server.createClient(), CONFIG, otherClock);
        TlsMaterial[] theirs = new TlsMaterial[1];
        clock.onNextRead(() -> theirs[0] = ensureUnchecked(other)); // between our GET and our PUT

        String log = capturingStderr(() -> manager().ensure());

        assertThat(log).contains("written by another replica");
        assertThat(manager().ensure().sameAs(theirs[0])).isTrue();
        assertThat(Pem.parseCertificates(pem(secret(), "tls.crt")).get(0)).isEqualTo(theirs[0].certificate());
    }

    @Test
    void ensure_twoReplicasRacing_endWithOneSecretBothUse() throws Exception {
        createWebhookConfiguration();
        var pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 10; round++) {
                client.secrets().inNamespace(NS).withName(CONFIG.secretName()).delete();
                await().until(() -> secret() == null);
                CyclicBarrier start = new CyclicBarrier(2);
                List<Future<TlsMaterial>> results = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    CertificateManager m = new CertificateManager(server.createClient(), CONFIG, TestClock.now());
                    results.add(pool.submit(() -> {
                        start.await();
                        return m.ensure();
                    }));
                }
                TlsMaterial a = results.get(0).get(30, TimeUnit.SECONDS);
                TlsMaterial b = results.get(1).get(30, TimeUnit.SECONDS);
                X509Certificate stored =
                        Pem.parseCertificates(pem(secret(), "tls.crt")).get(0);
                assertThat(a.certificate()).as("round %d", round).isEqualTo(stored);
                assertThat(b.certificate()).as("round %d", round).isEqualTo(stored);
                assertThat(caBundles()).containsOnly(a.caBundlePem());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void ensure_noWebhookConfigurationYet_servesAnyway_andWatchSetsTheBundleOnceItExists() throws Exception {
        CertificateManager.Config quickRetry = new CertificateManager.Config(
                NS,
                "mithril-webhook-tls",
                "mithril",
                "mithril-webhook",
                Duration.ofDays(5 * 365),
                Duration.ofDays(365),
                Duration.ofDays(30),
                Duration.ofMillis(100));
        CertificateManager mgr = new CertificateManager(client, quickRetry, clock);
        String log = capturingStderr(mgr::ensure);
        assertThat(log).contains("MutatingWebhookConfiguration mithril not found");
        TlsMaterial m = mgr.ensure();
        ScheduledExecutorService ses = Executors.newSingleThreadScheduledExecutor();
        try {
            mgr.watch(ses, Duration.ofHours(1), x -> {});
            createWebhookConfiguration();
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> caBundles().stream().allMatch(m.caBundlePem()::equals));
        } finally {
            ses.shutdownNow();
        }
    }

    @Test
    void watch_caBundleBlankedBySomeoneElse_isRepairedAtOnce_notAtTheNextHourlyCheck() throws Exception {
        createWebhookConfiguration();
        CertificateManager mgr = manager();
        TlsMaterial m = mgr.ensure();
        ScheduledExecutorService ses = Executors.newSingleThreadScheduledExecutor();
        try {
            mgr.watch(ses, Duration.ofHours(1), x -> {});
            assertThat(caBundles()).allMatch(m.caBundlePem()::equals);
            // a GitOps tool applies the configuration as it has it in git: no caBundle
            var resource = client.admissionRegistration()
                    .v1()
                    .mutatingWebhookConfigurations()
                    .withName("mithril");
            resource.patch(
                    io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                            io.fabric8.kubernetes.client.dsl.base.PatchType.JSON),
                    "[{\"op\":\"remove\",\"path\":\"/webhooks/0/clientConfig/caBundle\"},"
                            + "{\"op\":\"replace\",\"path\":\"/webhooks/1/clientConfig/caBundle\",\"value\":\"c3RhbGU=\"}]");
            assertThat(caBundles()).noneMatch(m.caBundlePem()::equals);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> caBundles().stream().allMatch(m.caBundlePem()::equals));
        } finally {
            ses.shutdownNow();
            mgr.close();
        }
    }

    @Test
    void watch_certificateRotated_handsTheNewMaterialToTheListenerOnce() throws Exception {
        createWebhookConfiguration();
        CertificateManager mgr = manager();
        TlsMaterial first = mgr.ensure();
        List<TlsMaterial> changes = new CopyOnWriteArrayList<>();
        ScheduledExecutorService ses = Executors.newSingleThreadScheduledExecutor();
        try {
            mgr.watch(ses, Duration.ofMillis(50), changes::add);
            Thread.sleep(300); // several checks with nothing changed
            assertThat(changes).isEmpty();

            clock.advance(Duration.ofDays(340));
            await().atMost(Duration.ofSeconds(10)).until(() -> !changes.isEmpty());
            Thread.sleep(300);
            assertThat(changes).hasSize(1);
            assertThat(serial(changes.get(0)))
                    .isNotEqualTo(serial(first))
                    .isEqualTo(Pem.parseCertificates(pem(secret(), "tls.crt"))
                            .get(0)
                            .getSerialNumber());
        } finally {
            ses.shutdownNow();
        }
    }

    static List<String> sans(X509Certificate c) throws Exception {
        return c.getSubjectAlternativeNames().stream()
                .map(san -> (String) san.get(1))
                .toList();
    }

    static TlsMaterial ensureUnchecked(CertificateManager m) {
        try {
            return m.ensure();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII));
    }

    interface Action {
        Object run() throws Exception;
    }

    /** What SLF4J's simple backend (test scope, writes to the current System.err) logged during {@code a}. */
    static String capturingStderr(Action a) throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            a.run();
        } finally {
            System.setErr(original);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        original.print(out);
        return out;
    }
}
