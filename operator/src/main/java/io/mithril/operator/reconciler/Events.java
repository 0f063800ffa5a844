package io.mithril.operator.reconciler;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.mithril.api.v1alpha1.CompileCache;
import java.time.Clock;
import java.util.Locale;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes Events on a CompileCache ({@code kubectl describe cc} shows them). Best effort: an
 * event that cannot be written is logged, never a reconcile failure.
 */
public final class Events {

    private static final Logger log = LoggerFactory.getLogger(Events.class);
    static final String COMPONENT = "mithril-operator";

    private final KubernetesClient client;
    private final Clock clock;

    public Events(KubernetesClient client, Clock clock) {
        this.client = client;
        this.clock = clock;
    }

    public void warning(CompileCache cc, String reason, String message) {
        emit(cc, "Warning", reason, message);
    }

    public void normal(CompileCache cc, String reason, String message) {
        emit(cc, "Normal", reason, message);
    }

    private void emit(CompileCache cc, String type, String reason, String message) {
        String now = clock.instant().toString();
        String ns = cc.getMetadata().getNamespace();
        try {
            client.v1()
                    .events()
                    .inNamespace(ns)
                    .resource(new EventBuilder()
                            .withNewMetadata()
                            .withNamespace(ns)
                            .withName(cc.getMetadata().getName() + "."
                                    + UUID.randomUUID()
                                            .toString()
                                            .substring(0, 8)
                                            .toLowerCase(Locale.ROOT))
                            .endMetadata()
                            .withInvolvedObject(new ObjectReferenceBuilder()
                                    .withApiVersion(cc.getApiVersion())
                                    .withKind(cc.getKind())
                                    .withNamespace(ns)
                                    .withName(cc.getMetadata().getName())
                                    .withUid(cc.getMetadata().getUid())
                                    .withResourceVersion(cc.getMetadata().getResourceVersion())
                                    .build())
                            .withType(type)
                            .withReason(reason)
                            .withMessage(message)
                            .withFirstTimestamp(now)
                            .withLastTimestamp(now)
                            .withCount(1)
                            .withNewSource()
                            .withComponent(COMPONENT)
                            .endSource()
                            .build())
                    .create();
        } catch (KubernetesClientException e) {
            log.warn(
                    "could not record event {} on {}/{}: {}",
                    reason,
                    ns,
                    cc.getMetadata().getName(),
                    e.getMessage());
        }
    }
}
