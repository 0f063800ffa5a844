package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.mithril.agent.diagnosis.Diagnoser;
import io.mithril.agent.diagnosis.Outcome;
import java.time.Instant;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says on the pod how its run went for the cache ({@code kubectl describe pod} and {@code kubectl get
 * events} show it): one Event per pod when its view ends, or when it got none. Reason
 * {@code MithrilWarm}, {@code MithrilNothingPublished}, {@code MithrilKeyChanged}, {@code MithrilRecompiled},
 * {@code MithrilUnused} or {@code MithrilNoView}; type Warning where the user can act (the key
 * changed, no view), else Normal. Written off the pod's lock, best effort: an Event that cannot be
 * written is logged, never a failure of the pod's handling.
 */
final class PodEvents implements PodVolumes.OutcomeReporter {

    private static final Logger log = LoggerFactory.getLogger(PodEvents.class);
    static final String COMPONENT = "mithril-node-agent";
    /** The API server refuses longer messages. */
    static final int MAX_MESSAGE = 1024;

    private final KubernetesClient client;
    private final String node;
    private final Executor executor;

    PodEvents(KubernetesClient client, String node, Executor executor) {
        this.client = client;
        this.node = node;
        this.executor = executor;
    }

    static String reason(Outcome o) {
        String k = o.key();
        return "Mithril" + Character.toUpperCase(k.charAt(0)) + k.substring(1);
    }

    static String type(Outcome o) {
        return o == Outcome.KEY_CHANGED || o == Outcome.NO_VIEW ? "Warning" : "Normal";
    }

    @Override
    public void report(String namespace, String name, String uid, Diagnoser.Diagnosis why) {
        executor.execute(() -> emit(namespace, name, uid, why));
    }

    private void emit(String namespace, String name, String uid, Diagnoser.Diagnosis why) {
        String now = Instant.now().toString();
        String message =
                why.line().length() <= MAX_MESSAGE ? why.line() : why.line().substring(0, MAX_MESSAGE - 3) + "...";
        try {
            client.v1()
                    .events()
                    .inNamespace(namespace)
                    .resource(new EventBuilder()
                            .withNewMetadata()
                            .withNamespace(namespace)
                            .withName(name + "."
                                    + UUID.randomUUID()
                                            .toString()
                                            .substring(0, 8)
                                            .toLowerCase(Locale.ROOT))
                            .endMetadata()
                            .withInvolvedObject(new ObjectReferenceBuilder()
                                    .withApiVersion("v1")
                                    .withKind("Pod")
                                    .withNamespace(namespace)
                                    .withName(name)
                                    .withUid(uid)
                                    .build())
                            .withType(type(why.outcome()))
                            .withReason(reason(why.outcome()))
                            .withMessage(message)
                            .withFirstTimestamp(now)
                            .withLastTimestamp(now)
                            .withCount(1)
                            .withNewSource()
                            .withComponent(COMPONENT)
                            .withHost(node)
                            .endSource()
                            .withReportingComponent("mithril.io/node-agent")
                            .withReportingInstance(node)
                            .build())
                    .create();
        } catch (KubernetesClientException e) {
            log.warn(
                    "could not record event {} on pod {}/{}: {}",
                    reason(why.outcome()),
                    namespace,
                    name,
                    e.getMessage());
        }
    }
}
