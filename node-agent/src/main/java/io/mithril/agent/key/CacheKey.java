package io.mithril.agent.key;

import io.mithril.agent.cas.Blake3;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * A key that a client computes itself for an artifact it wants to find again, modelled on the seed's
 * {@code CacheKey { graph_hash, inputs: [shape, dtype], device }}. The frameworks name their own
 * files; this key is for callers (and the later remote tier) that need a machine-independent name.
 *
 * <p>{@link #toStorageKey()} is BLAKE3 over a canonical, length-prefixed encoding of the fields and
 * nothing else: no host, user, path, clock or locale enters it, so equal inputs give equal keys on
 * every machine. The encoding starts with a version tag; changing it is a new version.
 */
record CacheKey(String graphHash, List<TensorSpec> inputs, DeviceClass device) {

    private static final String VERSION = "mithril.cachekey.v1";

    public CacheKey {
        Objects.requireNonNull(graphHash, "graphHash");
        Objects.requireNonNull(device, "device");
        inputs = List.copyOf(inputs);
    }

    /** One input: its shape (dimensions, -1 for a dynamic one) and dtype name as torch prints it. */
    public record TensorSpec(List<Long> shape, String dtype) {
        public TensorSpec {
            shape = List.copyOf(shape);
            Objects.requireNonNull(dtype, "dtype");
        }
    }

    /** The storage key: 64 lowercase hex digits. */
    public String toStorageKey() {
        StringBuilder b = new StringBuilder();
        field(b, VERSION);
        field(b, graphHash);
        field(b, Integer.toString(inputs.size()));
        for (TensorSpec t : inputs) {
            field(b, t.dtype());
            field(b, Integer.toString(t.shape().size()));
            for (long d : t.shape()) {
                field(b, Long.toString(d));
            }
        }
        field(b, device.text());
        return Blake3.hash(b.toString().getBytes(StandardCharsets.UTF_8)).hex();
    }

    private static void field(StringBuilder b, String v) {
        b.append(v.getBytes(StandardCharsets.UTF_8).length)
                .append(':')
                .append(v)
                .append(';');
    }
}
