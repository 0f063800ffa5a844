package io.mithril.e2e;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.kube.KubeAgent;
import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * One "node": a host folder standing in for its disk, its Node object in the API server, a kubelet
 * stand-in, and (optionally) the node agent in Kubernetes mode with its store under
 * {@code /var/lib/mithril} of that folder.
 */
final class Node implements AutoCloseable {

    final String name;
    final Path hostRoot;
    final FakeKubelet kubelet;
    final KubernetesClient client;
    NodeStore store;
    KubeAgent agent;
    AgentMetrics metrics;

    Node(KubernetesClient client, String name, Path hostRoot, String major, String minor, String product)
            throws Exception {
        this.client = client;
        this.name = name;
        this.hostRoot = Files.createDirectories(hostRoot);
        this.kubelet = new FakeKubelet(hostRoot, name);
        client.nodes()
                .resource(new NodeBuilder()
                        .withNewMetadata()
                        .withName(name)
                        .withLabels(Map.of(
                                "nvidia.com/gpu.compute.major",
                                major,
                                "nvidia.com/gpu.compute.minor",
                                minor,
                                "nvidia.com/gpu.product",
                                product))
                        .endMetadata()
                        .build())
                .createOr(r -> r.update());
    }

    /** Starts this node's agent (as the DaemonSet would). */
    Node startAgent() throws Exception {
        store = NodeStore.open(Files.createDirectories(kubelet.host("/var/lib/mithril/store")), StoreConfig.defaults());
        metrics = new AgentMetrics();
        agent = new KubeAgent(
                client,
                store,
                metrics,
                new KubeAgent.Config(
                        name,
                        kubelet.host("/var/lib/mithril/volumes"),
                        null,
                        null,
                        Duration.ofSeconds(1),
                        IngestLimits.defaults(),
                        false, // the mock API server has no spec.nodeName field selector
                        kubelet.host("/var/lib/kubelet/pods")));
        agent.start();
        return this;
    }

    Path view(String podUid) {
        return kubelet.host("/var/lib/mithril/volumes").resolve(podUid);
    }

    /**
     * Whether the agent has finished the pod: its view is gone (after the last ingest) and so is its
     * record, which goes last, after the pod's counts are recorded.
     */
    boolean finished(String podUid) {
        return !Files.exists(view(podUid))
                && !Files.exists(kubelet.host("/var/lib/mithril/store/pods").resolve(podUid));
    }

    GroupId group(String namespace, String cache) {
        return agent.volumes().node().group(namespace, cache);
    }

    @Override
    public void close() throws Exception {
        if (agent != null) {
            agent.close();
        }
        if (store != null) {
            store.close();
        }
    }
}
