package io.mithril.agent.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Blake3;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The index's records off the heap: moved out of sparse chunks, readable where they were, heap when the source fails. */
class ArenaTest {
    static final GroupId G = new GroupId("ns", "cc", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("h100"));

    static Entry entry(int i, int files) {
        List<EntryFile> fs = new ArrayList<>();
        for (int f = 0; f < files; f++) {
            fs.add(new EntryFile(
                    "triton/k" + i + "/kernel_" + f + ".cubin",
                    Blake3.hash(("b" + i + "/" + f).getBytes()),
                    100 + f,
                    f % 2 == 0));
        }
        return new Entry(new EntryKey(G, "e" + i + "/"), fs, i, i, "ingest pod-" + i + " at=2026-12-01T10:00:00Z");
    }

    @Test
    void entriesInAnIndex_liveInTheArena_andReadTheSameAsBefore() {
        Arena arena = new Arena(ByteBuffer::allocateDirect, 1 << 16);
        Index index = new Index(arena);
        Entry given = entry(1, 7);
        index.put(given);
        Entry held = index.get(given.key());
        assertThat(held).isNotSameAs(given);
        assertThat(held.chunk().arena).isSameAs(arena);
        assertThat(held.chunk().buf.isDirect()).isTrue();
        assertThat(held.key()).isEqualTo(given.key());
        assertThat(held.files()).isEqualTo(given.files());
        assertThat(held.bytes()).isEqualTo(given.bytes());
        assertThat(held.provenance()).isEqualTo("ingest pod-1 at=2026-12-01T10:00:00Z");
        assertThat(index.heapEstimate())
                .as("direct chunks are not heap")
                .isEqualTo(Index.ENTRY_HEAP + 7 * Index.FILE_HEAP + 7 * Index.BLOB_HEAP);
        assertThat(index.offHeapBytes()).isGreaterThan(0);
    }

    @Test
    void aChunkMostlyGarbage_isEmptied_andAnEntryReadFromItStaysWhole() {
        Arena arena = new Arena(ByteBuffer::allocateDirect, 4096);
        Index index = new Index(arena);
        for (int i = 0; i < 200; i++) {
            index.put(entry(i, 3));
        }
        int chunks = arena.chunkCount();
        assertThat(chunks).isGreaterThan(5);
        Entry survivor = index.get(entry(0, 3).key());
        List<EntryFile> before = survivor.files();
        for (int i = 1; i < 200; i++) {
            index.remove(entry(i, 3).key(), EvictionCause.DELETED);
        }
        for (int i = 200; i < 260; i++) {
            index.put(entry(i, 3));
        }
        index.checkInvariants();
        assertThat(arena.chunkCount()).as("emptied chunks dropped").isLessThan(chunks);
        Entry moved = index.get(survivor.key());
        assertThat(moved).as("moved to a new chunk").isNotSameAs(survivor);
        assertThat(moved.chunk()).isNotSameAs(survivor.chunk());
        assertThat(moved.files()).isEqualTo(before);
        assertThat(survivor.files())
                .as("the old object, read outside the lock, reads as it did")
                .isEqualTo(before);
        assertThat(index.touch(survivor.key(), 1000)).isTrue();
        assertThat(index.get(survivor.key()).lastUse()).isEqualTo(1000);
    }

    @Test
    void aSourceThatCannotGive_fallsBackToTheHeap_andTheEstimateCountsIt() {
        Arena arena = new Arena(
                bytes -> {
                    throw new IOException("No space left on device");
                },
                1 << 16);
        Index index = new Index(arena);
        index.put(entry(1, 2));
        assertThat(index.get(entry(1, 2).key()).files()).isEqualTo(entry(1, 2).files());
        assertThat(arena.offHeapBytes()).isZero();
        assertThat(arena.heapBytes()).isGreaterThanOrEqualTo(1 << 16);
        assertThat(index.heapEstimate()).isGreaterThanOrEqualTo(arena.heapBytes());
    }
}
