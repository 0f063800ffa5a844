package io.mithril.bench;

import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The cost of one locked store operation with nothing to do, so what the locking itself costs
 * (the mutex, the file lock, the handoff to the store's thread): {@code sync()} (lock, catch up
 * with the journal, unlock) and a pin with its unpin (two lease rewrites). Prints per round.
 * Usage: {@code LockedOpsBench [WORKDIR]}.
 */
public final class LockedOpsBench {
    private LockedOpsBench() {}

    public static void main(String[] args) throws Exception {
        Path root = args.length > 0
                ? Files.createDirectories(Path.of(args[0])).resolve("store-" + System.nanoTime())
                : Files.createTempDirectory("locked-ops");
        Files.createDirectories(root);
        GroupId g = new GroupId("ns", "c", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
        EntryKey k = new EntryKey(g, "x/");
        System.out.printf(
                Locale.ROOT,
                "# LockedOpsBench: java %s, %d cpus%n",
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            for (int round = 0; round < 5; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < 20_000; i++) {
                    s.sync();
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < 5_000; i++) {
                    s.pin(List.of(k)).close();
                }
                long t2 = System.nanoTime();
                System.out.printf(
                        Locale.ROOT,
                        "round %d: sync %.1f us, pin+unpin %.1f us%n",
                        round,
                        (t1 - t0) / 20_000 / 1e3,
                        (t2 - t1) / 5_000 / 1e3);
            }
        }
    }
}
