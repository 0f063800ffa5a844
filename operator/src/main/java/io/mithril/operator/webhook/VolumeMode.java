package io.mithril.operator.webhook;

/**
 * Where an injected pod's view comes from.
 * <ul>
 *   <li>{@code HostPath} (default): the node's view folder is mounted beside the canonical path
 *       (hostPath, {@code subPathExpr} on the pod UID) and the wait step links it in. The agent owns
 *       the folder, so its last ingest never races the pod's teardown. Needs a Pod Security level
 *       that admits hostPath in the workload's namespace.</li>
 *   <li>{@code EmptyDir}: the pod mounts only its own {@code emptyDir}; the agent publishes into it
 *       from the host side (kubelet's pod folder). Allowed under the baseline and restricted
 *       profiles and counted by kubelet's ephemeral-storage accounting. Kubelet removes the folder
 *       when the pod ends, so what the pod wrote after the agent's last periodic pass can be lost.</li>
 * </ul>
 */
public enum VolumeMode {
    HostPath,
    EmptyDir
}
