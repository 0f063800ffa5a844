package io.mithril.api.v1alpha1;

/** Which containers of a pod get the cache. */
public enum ContainerScope {
    /** Containers that request GPUs ({@code nvidia.com/gpu}); all containers if none does. */
    GpuContainers,
    /** Every container. */
    AllContainers,
    /** The containers named in {@code containerNames}. */
    Named
}
