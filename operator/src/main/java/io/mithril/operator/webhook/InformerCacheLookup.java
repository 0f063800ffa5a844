package io.mithril.operator.webhook;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.mithril.api.v1alpha1.CompileCache;
import java.util.List;

/**
 * The webhook's CompileCache lookup from an informer's cache, indexed by namespace: an admission
 * request never waits on the API server.
 */
public final class InformerCacheLookup implements WebhookServer.CacheLookup, AutoCloseable {

    private final SharedIndexInformer<CompileCache> informer;

    public InformerCacheLookup(KubernetesClient client) {
        this.informer = client.resources(CompileCache.class).inAnyNamespace().runnableInformer(0);
    }

    public void start() {
        informer.run();
    }

    public boolean synced() {
        return informer.hasSynced();
    }

    @Override
    public List<CompileCache> inNamespace(String namespace) {
        return informer.getIndexer()
                .byIndex(Cache.NAMESPACE_INDEX, namespace == null ? "" : namespace); // an index every informer keeps
    }

    @Override
    public void close() {
        informer.close();
    }
}
