package io.mithril.operator.certs;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the webhook's serving certificate, and the CA that signs it, in one Secret shared by all operator
 * replicas, and the CA bundle of the {@code MutatingWebhookConfiguration} in step with it.
 *
 * <p>Invariants. The Secret is the single source of truth: every replica serves what it holds, so a
 * replica that loses a write race adopts the winner's material instead of its own. Writes are optimistic
 * (create, else update with the read {@code resourceVersion}); on a conflict the Secret is read and judged
 * again. Nothing is written when the Secret still serves (readable, signed by its CA, for the Service's
 * DNS names, more than {@link Config#renewBefore} from expiry) and the bundle already matches. The CA is
 * replaced as soon as it would not outlive a fresh serving certificate, so no serving certificate outlives
 * its CA; the replaced CA stays in the bundle until it expires, so API servers keep trusting the serving
 * certificates that other replicas still present until their next check picks up the new one.
 */
public final class CertificateManager implements TlsSource {

    private static final Logger log = LoggerFactory.getLogger(CertificateManager.class);
    private static final int WRITE_ATTEMPTS = 5;

    /**
     * Settings.
     *
     * @param namespace where the operator, its Service and the Secret live
     * @param secretName the TLS Secret, e.g. {@code mithril-webhook-tls}
     * @param webhookConfigName the {@code MutatingWebhookConfiguration} whose {@code caBundle}s are kept
     * @param serviceName the webhook Service; the serving certificate names {@code svc}, {@code svc.ns},
     *     {@code svc.ns.svc}
     * @param caValidity lifetime of a new CA
     * @param servingValidity lifetime of a new serving certificate (shorter than the CA's)
     * @param renewBefore a serving certificate is replaced once it has less than this left
     * @param retryInterval how soon a failed check (API error, missing webhook configuration) runs again
     */
    public record Config(
            String namespace,
            String secretName,
            String webhookConfigName,
            String serviceName,
            Duration caValidity,
            Duration servingValidity,
            Duration renewBefore,
            Duration retryInterval) {

        public Config {
            Objects.requireNonNull(namespace, "namespace");
            Objects.requireNonNull(secretName, "secretName");
            Objects.requireNonNull(webhookConfigName, "webhookConfigName");
            Objects.requireNonNull(serviceName, "serviceName");
            if (renewBefore.compareTo(servingValidity) >= 0 || servingValidity.compareTo(caValidity) >= 0) {
                throw new IllegalArgumentException(String.format(
                        "need renewBefore (%s) < servingValidity (%s) < caValidity (%s)",
                        renewBefore, servingValidity, caValidity));
            }
            if (retryInterval.isNegative() || retryInterval.isZero()) {
                throw new IllegalArgumentException("retryInterval must be positive: " + retryInterval);
            }
        }

        /** Secret {@code mithril-webhook-tls}, configuration {@code mithril}, CA 5 years, serving 1 year, renewed 30 days ahead. */
        public static Config defaults(String namespace, String serviceName) {
            return new Config(
                    namespace,
                    "mithril-webhook-tls",
                    "mithril",
                    serviceName,
                    Duration.ofDays(5 * 365),
                    Duration.ofDays(365),
                    Duration.ofDays(30),
                    Duration.ofSeconds(30));
        }

        /** The names the API server may use to reach the Service. */
        public List<String> dnsNames() {
            return List.of(serviceName, serviceName + "." + namespace, serviceName + "." + namespace + ".svc");
        }
    }

    private final KubernetesClient client;
    private final Config config;
    private final Clock clock;
    private volatile TlsMaterial current;
    private volatile boolean bundleInSync;
    private volatile SharedIndexInformer<MutatingWebhookConfiguration> configWatch;

    public CertificateManager(KubernetesClient client, Config config, Clock clock) {
        this.client = client;
        this.config = config;
        this.clock = clock;
    }

    /**
     * Makes the Secret serve (creating or rotating the certificate and CA as needed), then brings the
     * webhook configuration's {@code caBundle}s in line. A missing webhook configuration is logged, not
     * thrown: {@link #watch} tries again after {@link Config#retryInterval}.
     *
     * @return the material in the Secret now, which may be another replica's
     * @throws KubernetesClientException when the API server refuses or cannot be reached
     */
    public TlsMaterial ensure() throws GeneralSecurityException {
        TlsMaterial m = ensureSecret();
        current = m;
        bundleInSync = syncCaBundle(m.caBundlePem());
        return m;
    }

    @Override
    public TlsMaterial load() throws GeneralSecurityException {
        return ensure();
    }

    /**
     * Sets {@code clientConfig.caBundle} of every webhook in the configuration to {@code bundlePem}
     * (base64), with one JSON patch and only where it differs.
     *
     * @return false when the configuration does not exist (yet) or the patch was refused
     */
    public boolean syncCaBundle(String bundlePem) {
        String want = Base64.getEncoder().encodeToString(bundlePem.getBytes(StandardCharsets.US_ASCII));
        var resource = client.admissionRegistration()
                .v1()
                .mutatingWebhookConfigurations()
                .withName(config.webhookConfigName());
        MutatingWebhookConfiguration mwc = resource.get();
        if (mwc == null) {
            log.warn(
                    "MutatingWebhookConfiguration {} not found; its caBundle is set once it exists (next try in {})",
                    config.webhookConfigName(),
                    config.retryInterval());
            return false;
        }
        List<Map<String, Object>> ops = new ArrayList<>();
        List<MutatingWebhook> hooks = mwc.getWebhooks() == null ? List.of() : mwc.getWebhooks();
        for (int i = 0; i < hooks.size(); i++) {
            MutatingWebhook h = hooks.get(i);
            if (h.getClientConfig() != null && want.equals(h.getClientConfig().getCaBundle())) {
                continue;
            }
            // the test guards against the list changing under us (a chart upgrade between read and patch)
            ops.add(Map.of("op", "test", "path", "/webhooks/" + i + "/name", "value", h.getName()));
            ops.add(
                    h.getClientConfig() == null
                            ? Map.of(
                                    "op",
                                    "add",
                                    "path",
                                    "/webhooks/" + i + "/clientConfig",
                                    "value",
                                    Map.of("caBundle", want))
                            : Map.of("op", "add", "path", "/webhooks/" + i + "/clientConfig/caBundle", "value", want));
        }
        if (ops.isEmpty()) {
            return true;
        }
        try {
            resource.patch(PatchContext.of(PatchType.JSON), Serialization.asJson(ops));
        } catch (KubernetesClientException e) {
            log.warn(
                    "caBundle patch of MutatingWebhookConfiguration {} refused ({} {}); trying again in {}",
                    config.webhookConfigName(),
                    e.getCode(),
                    e.getMessage(),
                    config.retryInterval());
            return false;
        }
        log.info(
                "caBundle of MutatingWebhookConfiguration {} set on {} of {} webhooks",
                config.webhookConfigName(),
                ops.size() / 2,
                hooks.size());
        return true;
    }

    /**
     * Runs {@link #ensure} every {@code period} (sooner, every {@link Config#retryInterval}, after a failure or
     * while the webhook configuration is missing) and hands changed material, such as another replica's
     * rotation, to {@code onChange}.
     */
    @Override
    public void watch(ScheduledExecutorService scheduler, Duration period, Consumer<TlsMaterial> onChange) {
        schedule(scheduler, period, onChange, bundleInSync ? period : config.retryInterval());
        watchConfiguration(scheduler);
    }

    /**
     * Watches the webhook configuration itself (an informer on that one name: RBAC {@code list, watch}
     * with {@code resourceNames}) and repairs a {@code caBundle} that differs from ours at once, on the
     * scheduler's thread: a GitOps tool or a {@code kubectl apply} that blanks it would otherwise leave
     * the webhook failing open until the next periodic check.
     */
    private void watchConfiguration(ScheduledExecutorService scheduler) {
        ResourceEventHandler<MutatingWebhookConfiguration> repair = new ResourceEventHandler<>() {
            @Override
            public void onAdd(MutatingWebhookConfiguration mwc) {
                repairIfStale(scheduler, mwc);
            }

            @Override
            public void onUpdate(MutatingWebhookConfiguration before, MutatingWebhookConfiguration mwc) {
                repairIfStale(scheduler, mwc);
            }

            @Override
            public void onDelete(MutatingWebhookConfiguration mwc, boolean unknownFinalState) {
                bundleInSync = false; // set again when it is created (onAdd)
            }
        };
        try {
            configWatch = client.admissionRegistration()
                    .v1()
                    .mutatingWebhookConfigurations()
                    .withName(config.webhookConfigName())
                    .inform(repair, 0);
        } catch (KubernetesClientException e) {
            log.warn(
                    "cannot watch MutatingWebhookConfiguration {} ({}); its caBundle is checked periodically only",
                    config.webhookConfigName(),
                    e.getMessage());
        }
    }

    private void repairIfStale(ScheduledExecutorService scheduler, MutatingWebhookConfiguration mwc) {
        TlsMaterial m = current;
        if (m == null || !stale(mwc, m.caBundlePem())) {
            return;
        }
        try {
            scheduler.execute(() -> {
                TlsMaterial now = current;
                if (now != null) {
                    log.info(
                            "caBundle of MutatingWebhookConfiguration {} changed by someone else; setting it again",
                            config.webhookConfigName());
                    bundleInSync = syncCaBundle(now.caBundlePem());
                }
            });
        } catch (RejectedExecutionException e) {
            log.debug("certificate checks stopped: scheduler shut down");
        }
    }

    /** Whether any webhook of the configuration lacks exactly this bundle. */
    static boolean stale(MutatingWebhookConfiguration mwc, String bundlePem) {
        String want = Base64.getEncoder().encodeToString(bundlePem.getBytes(StandardCharsets.US_ASCII));
        for (MutatingWebhook h : mwc.getWebhooks() == null ? List.<MutatingWebhook>of() : mwc.getWebhooks()) {
            if (h.getClientConfig() == null || !want.equals(h.getClientConfig().getCaBundle())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        SharedIndexInformer<MutatingWebhookConfiguration> w = configWatch;
        if (w != null) {
            w.close();
        }
    }

    private void schedule(
            ScheduledExecutorService scheduler, Duration period, Consumer<TlsMaterial> onChange, Duration delay) {
        try {
            scheduler.schedule(
                    () -> schedule(scheduler, period, onChange, check(onChange) ? period : config.retryInterval()),
                    delay.toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("certificate checks stopped: scheduler shut down");
        }
    }

    /** One periodic check; true when all is in place. */
    private boolean check(Consumer<TlsMaterial> onChange) {
        TlsMaterial before = current;
        try {
            TlsMaterial m = ensureSecret();
            current = m;
            bundleInSync = syncCaBundle(m.caBundlePem());
            if (!m.sameAs(before)) {
                onChange.accept(m);
            }
            return bundleInSync;
        } catch (Exception e) {
            log.warn("webhook certificate check failed ({}); trying again in {}", e.toString(), config.retryInterval());
            return false;
        }
    }

    private TlsMaterial ensureSecret() throws GeneralSecurityException {
        var secrets = client.secrets().inNamespace(config.namespace());
        for (int attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
            Secret existing = secrets.withName(config.secretName()).get();
            TlsSecret.Outcome o;
            try {
                o = TlsSecret.evaluate(
                        existing == null ? null : Objects.requireNonNullElse(existing.getData(), Map.of()),
                        config,
                        clock);
            } catch (GeneralSecurityException e) {
                throw e;
            } catch (Exception e) {
                throw new GeneralSecurityException("cannot issue certificates: " + e.getMessage(), e);
            }
            if (!o.problems().isEmpty()) {
                log.warn(
                        "Secret {}/{} is malformed ({}); replacing what cannot be read",
                        config.namespace(),
                        config.secretName(),
                        String.join("; ", o.problems()));
            }
            if (o.write() == null) {
                return o.material();
            }
            try {
                if (existing == null) {
                    secrets.resource(new SecretBuilder()
                                    .withNewMetadata()
                                    .withName(config.secretName())
                                    .withNamespace(config.namespace())
                                    .addToLabels("app.kubernetes.io/name", "mithril")
                                    .endMetadata()
                                    .withType("kubernetes.io/tls")
                                    .withData(o.write())
                                    .build())
                            .create();
                } else {
                    if (!"kubernetes.io/tls".equals(existing.getType())) {
                        log.warn(
                                "Secret {}/{} has type {} (immutable), not kubernetes.io/tls; writing the keys anyway",
                                config.namespace(),
                                config.secretName(),
                                existing.getType());
                    }
                    Map<String, String> data = new LinkedHashMap<>(o.write());
                    // resourceVersion from the read: a concurrent writer makes this a 409, not a lost update
                    secrets.resource(new SecretBuilder(existing).withData(data).build())
                            .update();
                }
                log.info(
                        "Secret {}/{} {}: {}; serving certificate serial {} until {}",
                        config.namespace(),
                        config.secretName(),
                        existing == null ? "created" : "updated",
                        String.join("; ", o.reasons()),
                        o.material().certificate().getSerialNumber().toString(16),
                        o.material().certificate().getNotAfter().toInstant());
                return o.material();
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                    throw e;
                }
                log.info(
                        "Secret {}/{} was written by another replica meanwhile; reading it again",
                        config.namespace(),
                        config.secretName());
            }
        }
        throw new KubernetesClientException("Secret " + config.namespace() + "/" + config.secretName()
                + " kept changing under " + WRITE_ATTEMPTS + " write attempts");
    }
}
