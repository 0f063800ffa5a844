package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.mithril.agent.remote.RemoteGc;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;

/**
 * Who runs remote retention in a cluster: a {@code coordination.k8s.io/v1} Lease in the agents'
 * namespace. Taking it is a compare-and-swap on the Lease's resourceVersion (an update the API
 * server refuses with 409 when another agent changed it since it was read), so two agents never
 * both hold it, which the lock object in the bucket cannot promise. An expired Lease (its holder
 * died or stopped renewing) may be taken by anyone.
 */
final class RetentionLease implements RemoteGc.Lock {
    static final String NAME = "mithril-remote-retention";

    private final KubernetesClient client;
    private final String namespace;
    private final String holder;
    private final Clock clock;

    RetentionLease(KubernetesClient client, String namespace, String holder, Clock clock) {
        this.client = client;
        this.namespace = namespace;
        this.holder = holder;
        this.clock = clock;
    }

    @Override
    public boolean tryAcquire(Duration lease) throws IOException {
        ZonedDateTime now = ZonedDateTime.now(clock);
        int seconds = (int) Math.max(1, Math.min(Integer.MAX_VALUE, lease.toSeconds()));
        try {
            Lease current =
                    client.leases().inNamespace(namespace).withName(NAME).get();
            if (current == null) {
                client.resource(new LeaseBuilder()
                                .withNewMetadata()
                                .withName(NAME)
                                .withNamespace(namespace)
                                .endMetadata()
                                .withNewSpec()
                                .withHolderIdentity(holder)
                                .withLeaseDurationSeconds(seconds)
                                .withAcquireTime(now)
                                .withRenewTime(now)
                                .withLeaseTransitions(0)
                                .endSpec()
                                .build())
                        .create();
                return true;
            }
            LeaseSpec s = current.getSpec() != null ? current.getSpec() : new LeaseSpec();
            boolean mine = holder.equals(s.getHolderIdentity());
            if (!mine && !free(s, now)) {
                return false;
            }
            if (!mine) {
                s.setAcquireTime(now);
                s.setLeaseTransitions(s.getLeaseTransitions() == null ? 1 : s.getLeaseTransitions() + 1);
            }
            s.setHolderIdentity(holder);
            s.setLeaseDurationSeconds(seconds);
            s.setRenewTime(now);
            current.setSpec(s);
            client.resource(current).update(); // carries the resourceVersion read: 409 if anyone wrote since
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
                return false; // another agent took or renewed it between our read and our write
            }
            throw new IOException("retention Lease " + namespace + "/" + NAME + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void release() throws IOException {
        try {
            Lease current =
                    client.leases().inNamespace(namespace).withName(NAME).get();
            if (current == null
                    || current.getSpec() == null
                    || !holder.equals(current.getSpec().getHolderIdentity())) {
                return;
            }
            current.getSpec().setHolderIdentity(null);
            current.getSpec().setRenewTime(null);
            client.resource(current).update();
        } catch (KubernetesClientException e) {
            if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                throw new IOException("retention Lease " + namespace + "/" + NAME + ": " + e.getMessage(), e);
            } // taken over meanwhile (ours had expired): nothing of ours to give back
        }
    }

    /** Nobody holds it, or its holder's time ran out. */
    private static boolean free(LeaseSpec s, ZonedDateTime now) {
        if (s.getHolderIdentity() == null || s.getHolderIdentity().isEmpty() || s.getRenewTime() == null) {
            return true;
        }
        int d = s.getLeaseDurationSeconds() == null ? 0 : s.getLeaseDurationSeconds();
        return s.getRenewTime().plusSeconds(d).isBefore(now);
    }
}
