package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.mithril.agent.framework.Framework;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.Views;
import io.mithril.api.v1alpha1.Injected;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the agent needs to know of a pod, read once from the API server's object: who it is, what the
 * webhook injected (its CompileCache, frameworks, volume mode), whom it runs as, and how far its run
 * has got. A plain value: every decision about a pod reads this, never the Pod object itself.
 *
 * @param cache        the CompileCache the webhook injected it for ({@code mithril.io/injected})
 * @param terminal     phase Succeeded or Failed
 * @param waitStepEnded the injected wait step has terminated (it published or gave up: the pod runs)
 * @param crashed      phase Failed, or a container exited non-zero while the pod was not being deleted
 * @param ready        its Ready condition is True now
 * @param succeeded    phase Succeeded
 */
record PodFacts(
        String uid,
        String namespace,
        String name,
        String nodeName,
        String cache,
        Set<Framework> frameworks,
        Access access,
        boolean emptyDirMode,
        boolean terminal,
        boolean waitStepEnded,
        boolean crashed,
        boolean ready,
        boolean succeeded) {

    static final Pattern UID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** Who the injected containers run as, as far as the pod says, and so how to publish. */
    record Access(Views.Owner owner, PublishMode mode) {}

    /** The facts of an injected pod; empty for a pod the webhook did not inject (or one without metadata or spec). */
    static Optional<PodFacts> of(Pod pod) {
        if (pod == null
                || pod.getMetadata() == null
                || pod.getSpec() == null
                || pod.getMetadata().getAnnotations() == null
                || !pod.getMetadata().getAnnotations().containsKey(Injected.ANNOTATION)) {
            return Optional.empty();
        }
        Map<String, String> a = pod.getMetadata().getAnnotations();
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        return Optional.of(new PodFacts(
                pod.getMetadata().getUid(),
                pod.getMetadata().getNamespace(),
                pod.getMetadata().getName(),
                pod.getSpec().getNodeName(),
                a.get(Injected.ANNOTATION),
                frameworks(a.get(Injected.ANNOTATION_FRAMEWORKS)),
                access(pod),
                "EmptyDir".equals(a.get(Injected.ANNOTATION_VOLUME)),
                "Succeeded".equals(phase) || "Failed".equals(phase),
                waitStepEnded(pod),
                crashed(pod),
                ready(pod),
                "Succeeded".equals(phase)));
    }

    /** Whether the agent of node {@code node} serves it: bound there, with a UID as the API server makes them. */
    boolean takesPart(String node) {
        return node.equals(nodeName) && uid != null && UID.matcher(uid).matches();
    }

    /** {@code namespace/name}, for logs and outcomes. */
    String display() {
        return namespace + "/" + name;
    }

    private static boolean waitStepEnded(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getInitContainerStatuses() == null) {
            return false;
        }
        for (ContainerStatus s : pod.getStatus().getInitContainerStatuses()) {
            if (Injected.WAIT_CONTAINER.equals(s.getName())
                    && s.getState() != null
                    && s.getState().getTerminated() != null) {
                return true;
            }
        }
        return false;
    }

    private static boolean ready(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return false;
        }
        for (PodCondition c : pod.getStatus().getConditions()) {
            if ("Ready".equals(c.getType()) && "True".equals(c.getStatus())) {
                return true;
            }
        }
        return false;
    }

    private static boolean crashed(Pod pod) {
        if (pod.getStatus() == null) {
            return false;
        }
        boolean crashed = "Failed".equals(pod.getStatus().getPhase());
        if (pod.getMetadata().getDeletionTimestamp() == null && pod.getStatus().getContainerStatuses() != null) {
            for (ContainerStatus cs : pod.getStatus().getContainerStatuses()) {
                crashed |= exitedNonZero(cs.getState()) || exitedNonZero(cs.getLastState());
            }
        }
        return crashed;
    }

    private static boolean exitedNonZero(ContainerState st) {
        return st != null
                && st.getTerminated() != null
                && st.getTerminated().getExitCode() != null
                && st.getTerminated().getExitCode() != 0;
    }

    /** The webhook's framework names (the CRD's enum) to the agent's, by the api's table; unknown names are skipped. */
    static Set<Framework> frameworks(String annotation) {
        return Framework.ofWireList(annotation);
    }

    /**
     * Whom the injected containers run as. A view belongs to the pod's user when the pod says who that
     * is; root and unknown users get copies rather than links (a root process could write a linked
     * blob in place), and an unknown user's view is writable by anyone (it is mounted into one pod).
     */
    static Access access(Pod pod) {
        PodSecurityContext psc = pod.getSpec().getSecurityContext();
        Set<String> injected = new HashSet<>(Arrays.asList(
                Objects.requireNonNullElse(pod.getMetadata().getAnnotations().get(Injected.ANNOTATION_CONTAINERS), "")
                        .split(",")));
        Set<Long> uids = new HashSet<>();
        Set<Long> gids = new HashSet<>();
        for (Container c : pod.getSpec().getContainers()) {
            if (!injected.contains(c.getName())) {
                continue;
            }
            SecurityContext sc = c.getSecurityContext();
            uids.add(
                    sc != null && sc.getRunAsUser() != null
                            ? sc.getRunAsUser()
                            : psc == null ? null : psc.getRunAsUser());
            Long gid = sc != null && sc.getRunAsGroup() != null
                    ? sc.getRunAsGroup()
                    : psc == null ? null : psc.getRunAsGroup();
            gids.add(gid != null ? gid : psc == null ? null : psc.getFsGroup());
        }
        Long uid = uids.size() == 1 ? uids.iterator().next() : null;
        Long gid = gids.size() == 1 ? gids.iterator().next() : null;
        if (uid == null) {
            return new Access(new Views.Owner(null, gid == null ? null : gid.intValue(), true), PublishMode.COPY);
        }
        return new Access(
                new Views.Owner(uid.intValue(), gid == null ? null : gid.intValue()),
                uid == 0 ? PublishMode.COPY : PublishMode.LINK);
    }
}
