package io.mithril.agent.key;

import java.util.Locale;

/**
 * The GPU product name as a stable slug. Inductor keys its FX graph entries on the device name, so
 * an H100 PCIe and an H100 SXM (both compute capability 9.0) must land in different groups. The
 * slug is lowercase ASCII letters, digits and single dashes: {@code "NVIDIA H100 80GB HBM3"} becomes
 * {@code nvidia-h100-80gb-hbm3}, the same whether it came from nvidia-smi or from the
 * {@code nvidia.com/gpu.product} node label ({@code NVIDIA-H100-80GB-HBM3}).
 */
public record GpuProduct(String slug) {

    /** No GPU (the {@code Cpu} device class) or a product not known. */
    public static final GpuProduct NONE = new GpuProduct("none");

    public GpuProduct {
        if (!slug.matches("[a-z0-9]+(-[a-z0-9]+)*") || slug.length() > 63) {
            throw new InvalidNameException(
                    "GPU product slug must be lowercase letters, digits and dashes (at most 63): "
                            + Names.printable(slug));
        }
    }

    public static GpuProduct of(String name) {
        String s = name == null ? "" : name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
        s = s.replaceAll("^-+|-+$", "");
        if (s.length() > 63) {
            s = s.substring(0, 63).replaceAll("-+$", "");
        }
        return s.isEmpty() ? NONE : new GpuProduct(s);
    }

    @Override
    public String toString() {
        return slug;
    }
}
