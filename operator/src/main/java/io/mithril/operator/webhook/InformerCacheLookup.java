package io.mithril.operator.webhook;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.mithril.api.v1alpha1.CompileCache;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The webhook's CompileCache lookup from an informer's cache, indexed by namespace: an admission
 * request never waits on the API server.
 */
public final class InformerCacheLookup implements WebhookServer.CacheLookup, AutoCloseable {

    private static final String BY_NAMESPACE = "namespace";
    private final SharedIndexInformer<CompileCache> informer;

    public InformerCacheLookup(KubernetesClient client) {
        this.informer = client.resources(CompileCache.class).inAnyNamespace().runnableInformer(0);
        Function<CompileCache, List<String>> ns = cc -> List.of(cc.getMetadata().getNamespace());
        informer.addIndexers(Map.of(BY_NAMESPACE, ns));
    }

    public void start() {
        informer.run();
    }

    public boolean synced() {
        return informer.hasSynced();
    }

    @Override
    public List<CompileCache> inNamespace(String namespace) {
        return informer.getIndexer().byIndex(BY_NAMESPACE, namespace == null ? "" : namespace);
    }

    @Override
    public void close() {
        informer.close();
    }

}
