package io.mithril.operator.webhook;

import java.util.Map;

/**
 * The ConfigMaps a container takes variables from ({@code envFrom}), read at admission so that a cache
 * variable set there is not silently overridden by the injected {@code env} (which Kubernetes gives
 * precedence). Secrets are never read. {@link PodMutator} stays a pure function of what this answers.
 */
@FunctionalInterface
interface ConfigMapLookup {

    /** The ConfigMap {@code name} of {@code namespace}. */
    Result get(String namespace, String name);

    /**
     * The lookup one admission request uses: the API server's one bounds all the reads of a request
     * together ({@link KubeConfigMapLookup}). By default this one.
     */
    default ConfigMapLookup forRequest() {
        return this;
    }

    /** What a read found. */
    sealed interface Result permits Found, Missing, Unreadable {}

    /** The ConfigMap's {@code data} (what {@code envFrom} turns into variables; {@code binaryData} is not). */
    record Found(Map<String, String> data) implements Result {
        public Found {
            data = Map.copyOf(data);
        }
    }

    /** There is no such ConfigMap. */
    record Missing() implements Result {}

    /** It could not be read ({@code why}: forbidden, no answer in time, ...): what it sets is unknown. */
    record Unreadable(String why) implements Result {}

    /** No lookup: every ConfigMap is unknown (the webhook then injects and says so). */
    ConfigMapLookup NONE = (namespace, name) -> new Unreadable("not looked up");
}
