package io.mithril.agent.key;

import java.util.regex.Pattern;

/**
 * A partition of a node's store: namespace, CompileCache name, device class and GPU product.
 * Entries of one group are never served to another group; blobs are shared between groups because
 * a blob is only bytes named by their hash. The text form {@code ns/name/cuda-9.0/nvidia-h100} is
 * what the journal stores.
 */
public record GroupId(String namespace, String cache, DeviceClass device, GpuProduct product) {

    /** Kubernetes DNS-1123 label, which both namespaces and CompileCache names satisfy. */
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    public GroupId {
        checkLabel("namespace", namespace);
        checkLabel("cache name", cache);
        if (device == null || product == null) {
            throw new InvalidNameException("group needs a device class and a product");
        }
    }

    private static void checkLabel(String what, String v) {
        if (v == null || !LABEL.matcher(v).matches()) {
            throw new InvalidNameException(
                    what + " must be a DNS-1123 label (lowercase letters, digits, '-', at most 63): "
                            + Names.printable(String.valueOf(v)));
        }
    }

    public String text() {
        return namespace + "/" + cache + "/" + device.text() + "/" + product.slug();
    }

    public static GroupId parse(String text) {
        String[] p = text.split("/", -1);
        if (p.length != 4) {
            throw new InvalidNameException("group must be namespace/cache/device/product: " + Names.printable(text));
        }
        return new GroupId(p[0], p[1], DeviceClass.parse(p[2]), new GpuProduct(p[3]));
    }

    @Override
    public String toString() {
        return text();
    }
}
