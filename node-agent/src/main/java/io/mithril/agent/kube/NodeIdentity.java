package io.mithril.agent.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.mithril.agent.framework.CudaDriver;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.nio.file.Path;
import java.util.Map;

/**
 * This agent's node and what its compiled artifacts are valid for: the device class from the
 * labels NVIDIA's GPU feature discovery sets ({@code nvidia.com/gpu.compute.major}, {@code .minor}),
 * the product from {@code nvidia.com/gpu.product}. Either can be overridden (flags), for nodes
 * without GPU feature discovery.
 */
public record NodeIdentity(String node, DeviceClass device, GpuProduct product, CudaDriver cudaDriver) {

    /** Where the NVIDIA kernel module says its version; visible in every container of the node. */
    public static final Path PROC_DRIVER_VERSION = Path.of("/proc/driver/nvidia/version");

    public NodeIdentity {
        cudaDriver = cudaDriver == null ? CudaDriver.UNKNOWN : cudaDriver;
    }

    public NodeIdentity(String node, DeviceClass device, GpuProduct product) {
        this(node, device, product, CudaDriver.UNKNOWN);
    }

    public static final String LABEL_MAJOR = "nvidia.com/gpu.compute.major";
    public static final String LABEL_MINOR = "nvidia.com/gpu.compute.minor";
    public static final String LABEL_PRODUCT = "nvidia.com/gpu.product";
    static final String GPU_RESOURCE = "nvidia.com/gpu";

    /**
     * From the Node's labels, unless overridden. Without compute labels: {@code cuda-any} when the
     * node offers {@code nvidia.com/gpu}, else {@code cpu}.
     */
    public static NodeIdentity of(Node node, String deviceOverride, String productOverride) {
        return of(node, deviceOverride, productOverride, null, PROC_DRIVER_VERSION);
    }

    /**
     * As {@link #of(Node, String, String)}, with the node's CUDA driver ({@link CudaDriver#ofNode}):
     * the override, GPU feature discovery's labels, else the kernel module's version file.
     */
    public static NodeIdentity of(
            Node node,
            String deviceOverride,
            String productOverride,
            String cudaDriverOverride,
            Path procDriverVersion) {
        Map<String, String> labels = node.getMetadata().getLabels() == null
                ? Map.of()
                : node.getMetadata().getLabels();
        DeviceClass device;
        if (deviceOverride != null && !deviceOverride.isBlank()) {
            device = DeviceClass.parse(deviceOverride);
        } else if (labels.containsKey(LABEL_MAJOR) && labels.containsKey(LABEL_MINOR)) {
            device = DeviceClass.parse("cuda-" + labels.get(LABEL_MAJOR).trim() + "."
                    + labels.get(LABEL_MINOR).trim());
        } else {
            boolean gpu = node.getStatus() != null
                    && node.getStatus().getCapacity() != null
                    && node.getStatus().getCapacity().containsKey(GPU_RESOURCE);
            device = gpu ? new DeviceClass.CudaAny() : new DeviceClass.Cpu();
        }
        GpuProduct product = productOverride != null && !productOverride.isBlank()
                ? GpuProduct.of(productOverride)
                : device instanceof DeviceClass.Cpu ? GpuProduct.NONE : GpuProduct.of(labels.get(LABEL_PRODUCT));
        CudaDriver cuda =
                device instanceof DeviceClass.Cpu && (cudaDriverOverride == null || cudaDriverOverride.isBlank())
                        ? CudaDriver.UNKNOWN
                        : CudaDriver.ofNode(cudaDriverOverride, labels, procDriverVersion);
        return new NodeIdentity(node.getMetadata().getName(), device, product, cuda);
    }

    /** The group of a CompileCache on this node. */
    public GroupId group(String namespace, String cache) {
        return new GroupId(namespace, cache, device, product);
    }
}
