package io.mithril.operator.webhook;

import io.fabric8.kubernetes.api.model.LimitRange;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.List;

/**
 * {@link NamespacePolicy} from three informers (namespaces, LimitRanges, ResourceQuotas in every
 * namespace): RBAC {@code get, list, watch} on namespaces and {@code list, watch} on the other two.
 * Until the namespace informer has synced (the first seconds after a start) every namespace reads as
 * {@code restricted}, the strictest level: its pods get no hostPath rather than one the API server might
 * reject. After that a namespace the cache does not hold (created a moment before the pod) reads as
 * unlabelled, so the cluster default applies.
 */
public final class InformerNamespaceLookup implements NamespacePolicy.Lookup, AutoCloseable {

    private final SharedIndexInformer<Namespace> namespaces;
    private final SharedIndexInformer<LimitRange> limitRanges;
    private final SharedIndexInformer<ResourceQuota> quotas;
    static final String NOT_SYNCED = "restricted";

    public InformerNamespaceLookup(KubernetesClient client) {
        this.namespaces = client.namespaces().runnableInformer(0);
        this.limitRanges = client.limitRanges().inAnyNamespace().runnableInformer(0);
        this.quotas = client.resourceQuotas().inAnyNamespace().runnableInformer(0);
    }

    public void start() {
        namespaces.run();
        limitRanges.run();
        quotas.run();
    }

    public boolean synced() {
        return namespaces.hasSynced() && limitRanges.hasSynced() && quotas.hasSynced();
    }

    @Override
    public NamespacePolicy of(String namespace) {
        if (namespace == null) {
            return NamespacePolicy.NONE;
        }
        Namespace ns = namespaces.getIndexer().getByKey(namespace);
        String enforce = ns == null
                ? (namespaces.hasSynced() ? null : NOT_SYNCED)
                : ns.getMetadata().getLabels() == null
                        ? null
                        : ns.getMetadata().getLabels().get(PodSecurity.ENFORCE_LABEL);
        List<LimitRange> lr = limitRanges.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace);
        List<ResourceQuota> rq = quotas.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace);
        return new NamespacePolicy(enforce, lr, rq);
    }

    @Override
    public void close() {
        namespaces.close();
        limitRanges.close();
        quotas.close();
    }
}
