package io.mithril.agent.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The compact entry gives back exactly what it was built from. */
class EntryTest {

    static final GroupId G = new GroupId("ns", "cc", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("h100"));

    static Address addr(int i) {
        return Blake3.hash(("blob" + i).getBytes());
    }

    @Test
    void filesComeBackInOrder_withFrontCodedPathsFlagsAndSizes() {
        String k = "triton_per_fused_embedding_dense_backward_sum_view_19";
        List<EntryFile> files = new ArrayList<>();
        String[] names = {
            "__grp__" + k + ".json",
            k + ".cubin",
            k + ".json",
            k + ".llir",
            k + ".ptx",
            "caf\u00e9/\u00e9t\u00e9.py",
            "caf\u00e9/\u00e9t\u00e9.pyc",
            "caf\u00e9/\u00e8",
            "a",
            "a/b",
            "b"
        };
        for (int i = 0; i < names.length; i++) {
            files.add(new EntryFile(names[i], addr(i), i * 1000L + (1L << 33), i % 3 == 0));
        }
        Entry e = new Entry(new EntryKey(G, "triton/ABC/"), files, 5, 7, "p");
        assertThat(e.files()).isEqualTo(files);
        assertThat(e.key()).isEqualTo(new EntryKey(G, "triton/ABC/"));
        assertThat(e.fileCount()).isEqualTo(names.length);
        assertThat(e.bytes())
                .isEqualTo(files.stream().mapToLong(EntryFile::size).sum());
        assertThat(e.refersTo(addr(3))).isTrue();
        assertThat(e.refersTo(addr(99))).isFalse();
        assertThat(e.created()).isEqualTo(5);
        assertThat(e.lastUse()).isEqualTo(7);
    }

    @Test
    void provenanceComesBackVerbatim_whetherItsTimeIsFoldedOrNot() {
        Random rnd = new Random(3);
        List<String> cases = new ArrayList<>(List.of(
                "",
                "bench",
                " at=",
                "x at=2026-12-01T15:04:11Z",
                "x at=2026-12-01T15:04:11.000Z",
                "x at=2026-12-01T15:04:11.120Z",
                "x at=2026-12-01T15:04:11.123000Z",
                "x at=2026-02-30T15:04:11Z",
                "x at=2026-12-01T25:04:11Z",
                "x at=2026-12-01T15:04:11.1Z",
                "x at=+12026-12-01T15:04:11Z",
                "x at=0999-12-01T15:04:11Z",
                "a at=b at=2026-12-01T15:04:11.5Z",
                "x at=2026-12-01T15:04:11.123456789Z trailing"));
        for (int i = 0; i < 2000; i++) {
            long sec = rnd.nextLong(-1L << 35, 1L << 35);
            int nano = switch (i % 4) {
                case 0 -> 0;
                case 1 -> rnd.nextInt(1000) * 1_000_000;
                case 2 -> rnd.nextInt(1_000_000) * 1000;
                default -> rnd.nextInt(1_000_000_000);
            };
            cases.add("group=ns/cc source=pod ns/p-" + i + " at=" + Instant.ofEpochSecond(sec, nano));
        }
        for (String p : cases) {
            Entry e = new Entry(new EntryKey(G, "e/"), List.of(new EntryFile("f", addr(1), 1, false)), 1, 1, p);
            assertThat(e.provenance()).isEqualTo(p);
        }
        assertThat(Entry.timeOf("x at=2026-12-01T15:04:11.120Z")).isNotEqualTo(Long.MIN_VALUE);
        assertThat(Entry.timeOf("x at=2026-12-01T15:04:11.000Z")).isEqualTo(Long.MIN_VALUE);
    }
}
