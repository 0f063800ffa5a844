package io.mithril.agent.store;

import io.mithril.agent.index.Entry;
import io.mithril.agent.index.EntryFile;
import io.mithril.agent.index.EntryKey;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/** Shared helpers for tests that drive a real store on a real directory. */
public final class StoreFixture {
    private StoreFixture() {}

    public static final GroupId H100 =
            new GroupId("team-a", "gpt", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));
    public static final GroupId A100 =
            new GroupId("team-a", "gpt", new DeviceClass.CudaCompute(8, 0), GpuProduct.of("NVIDIA A100-SXM4-80GB"));

    public static byte[] bytes(long seed, int len) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Puts the given contents as one entry with files f0, f1, ... and commits it. */
    public static Entry commit(NodeStore s, GroupId g, String name, byte[]... contents) throws IOException {
        EntryFile[] files = new EntryFile[contents.length];
        for (int i = 0; i < contents.length; i++) {
            NodeStore.Stored w = s.put(new ByteArrayInputStream(contents[i]), contents[i].length);
            files[i] = new EntryFile("f" + i, w.address(), w.size(), false);
        }
        return s.commit(new EntryKey(g, name), List.of(files), "test");
    }

    /** Bytes of all blob files actually on disk. */
    public static long blobBytesOnDisk(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root.resolve("blobs"))) {
            return s.filter(Files::isRegularFile)
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
    }

    /** Regular files below {@code dir}, at any depth. */
    public static long filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).count();
        }
    }
}
