package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import java.util.List;

/**
 * What a pod's namespace enforces at admission, as far as the injection is concerned: its Pod Security
 * level label ({@code pod-security.kubernetes.io/enforce}, null when unlabelled), its LimitRanges and its
 * ResourceQuotas. From informer caches ({@link InformerNamespaceLookup}), never a per-request API call.
 */
record NamespacePolicy(String podSecurityEnforce, List<LimitRange> limitRanges, List<ResourceQuota> quotas) {

    public static final NamespacePolicy NONE = new NamespacePolicy(null, List.of(), List.of());

    public NamespacePolicy {
        limitRanges = List.copyOf(limitRanges);
        quotas = List.copyOf(quotas);
    }

    /** A namespace's policy by name. */
    @FunctionalInterface
    public interface Lookup {
        NamespacePolicy of(String namespace);

        Lookup NONE = ns -> NamespacePolicy.NONE;
    }
}
