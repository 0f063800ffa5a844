package io.mithril.agent.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.cas.Blake3;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

/**
 * Drives {@link Index} and a deliberately naive reference model with the same random operations
 * (commits with shared blobs, replacements, uses, removals, pins, node and group budgets) and
 * compares every observable after each step.
 */
class IndexModelTest {

    static final List<GroupId> GROUPS = List.of(
            new GroupId("a", "cc", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("h100")),
            new GroupId("a", "cc", new DeviceClass.CudaCompute(8, 0), GpuProduct.of("a100")),
            new GroupId("b", "cc", new DeviceClass.Cpu(), GpuProduct.NONE));

    /** The model: a list of entries with last-use times; sizes recomputed from scratch each time. */
    static final class Model {
        record M(EntryKey key, List<EntryFile> files, long lastUse) {}

        final Map<EntryKey, M> entries = new HashMap<>();

        long uniqueBytes() {
            Map<Address, Long> u = new HashMap<>();
            entries.values().forEach(m -> m.files().forEach(f -> u.put(f.address(), f.size())));
            return u.values().stream().mapToLong(Long::longValue).sum();
        }

        long groupBytes(GroupId g) {
            return entries.values().stream()
                    .filter(m -> m.key().group().equals(g))
                    .flatMap(m -> m.files().stream())
                    .mapToLong(EntryFile::size)
                    .sum();
        }

        Set<Address> blobs() {
            Set<Address> s = new HashSet<>();
            entries.values().forEach(m -> m.files().forEach(f -> s.add(f.address())));
            return s;
        }

        M oldestUnpinned(Set<EntryKey> pinned, GroupId onlyGroup) {
            return entries.values().stream()
                    .filter(m -> !pinned.contains(m.key()))
                    .filter(m -> onlyGroup == null || m.key().group().equals(onlyGroup))
                    .min(Comparator.comparingLong(M::lastUse))
                    .orElse(null);
        }

        List<EntryKey> evictNode(long target, Set<EntryKey> pinned) {
            return evict(null, target, pinned);
        }

        List<EntryKey> evictGroup(GroupId g, long target, Set<EntryKey> pinned) {
            return evict(g, target, pinned);
        }

        long heap() {
            long files =
                    entries.values().stream().mapToLong(m -> m.files().size()).sum();
            return entries.size() * Index.ENTRY_HEAP + files * Index.FILE_HEAP + blobs().size() * Index.BLOB_HEAP;
        }

        /** Oldest unpinned first until the heap estimate fits. */
        List<EntryKey> evictHeap(long target, Set<EntryKey> pinned) {
            return evict(null, () -> heap() > target, pinned);
        }

        /** Oldest unpinned first until the node (g == null) or the group fits. */
        private List<EntryKey> evict(GroupId g, long target, Set<EntryKey> pinned) {
            return evict(g, () -> (g == null ? uniqueBytes() : groupBytes(g)) > target, pinned);
        }

        /** Oldest unpinned (of the group g, or of all when null) first while {@code over}. */
        private List<EntryKey> evict(GroupId g, BooleanSupplier over, Set<EntryKey> pinned) {
            List<EntryKey> out = new ArrayList<>();
            while (over.getAsBoolean()) {
                M v = oldestUnpinned(pinned, g);
                if (v == null) {
                    break;
                }
                entries.remove(v.key());
                out.add(v.key());
            }
            return out;
        }
    }

    @RepeatedTest(5)
    void randomOperations_matchReferenceModel(RepetitionInfo rep) {
        long seed = 0x5eed0000L + rep.getCurrentRepetition();
        Random rnd = new Random(seed);
        // direct memory as a store's mapped chunks are (the heap estimate leaves it out), and
        // chunks small enough that emptying sparse ones happens all the time
        Arena arena = new Arena(ByteBuffer::allocateDirect, 4096);
        Index index = new Index(arena);
        Model model = new Model();
        Set<EntryKey> pinned = new HashSet<>();
        List<Address> blobPool = new ArrayList<>();
        Map<Address, Long> blobSize = new HashMap<>();
        for (int i = 0; i < 60; i++) {
            Address a = Blake3.hash(("blob" + i).getBytes());
            blobPool.add(a);
            blobSize.put(a, 1L + rnd.nextInt(5000));
        }
        long clock = 0;
        for (int step = 0; step < 5000; step++) {
            clock++;
            GroupId g = GROUPS.get(rnd.nextInt(GROUPS.size()));
            EntryKey key = new EntryKey(g, "e" + rnd.nextInt(40) + "/");
            int op = rnd.nextInt(100);
            String ctx = "seed " + seed + " step " + step + " op " + op;
            if (op < 35) {
                int n = 1 + rnd.nextInt(4);
                List<EntryFile> files = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    Address a = blobPool.get(rnd.nextInt(blobPool.size()));
                    files.add(new EntryFile("f" + i, a, blobSize.get(a), false));
                }
                index.put(new Entry(key, files, clock, clock, "test"));
                model.entries.put(key, new Model.M(key, files, clock));
            } else if (op < 60) {
                boolean present = index.touch(key, clock);
                assertThat(present).as(ctx).isEqualTo(model.entries.containsKey(key));
                if (present) {
                    Model.M m = model.entries.get(key);
                    model.entries.put(key, new Model.M(key, m.files(), clock));
                }
            } else if (op < 68) {
                Index.Removal r = index.remove(key, EvictionCause.DELETED);
                assertThat(r != null).as(ctx).isEqualTo(model.entries.remove(key) != null);
            } else if (op < 78) {
                if (!pinned.remove(key)) {
                    pinned.add(key);
                }
            } else if (op < 90) {
                long target = (long) (model.uniqueBytes() * rnd.nextDouble());
                Set<Address> before = model.blobs();
                List<Index.Removal> got = index.evictNode(target, pinned::contains);
                List<EntryKey> want = model.evictNode(target, pinned);
                assertThat(got.stream().map(r -> r.entry().key()).toList())
                        .as(ctx)
                        .isEqualTo(want);
                Set<Address> freed = new HashSet<>(before);
                freed.removeAll(model.blobs());
                Set<Address> gotFreed = new HashSet<>();
                got.forEach(r -> gotFreed.addAll(r.freedBlobs()));
                assertThat(gotFreed).as(ctx + ": freed blobs").isEqualTo(freed);
                got.forEach(r -> assertThat(pinned).doesNotContain(r.entry().key()));
            } else if (op < 96) {
                long target = (long) (model.groupBytes(g) * rnd.nextDouble());
                List<Index.Removal> got = index.evictGroup(g, target, pinned::contains);
                List<EntryKey> want = model.evictGroup(g, target, pinned);
                assertThat(got.stream().map(r -> r.entry().key()).toList())
                        .as(ctx)
                        .isEqualTo(want);
            } else {
                long target = (long) (model.heap() * rnd.nextDouble());
                List<Index.Removal> got = index.evictToHeap(target, pinned::contains);
                List<EntryKey> want = model.evictHeap(target, pinned);
                assertThat(got.stream().map(r -> r.entry().key()).toList())
                        .as(ctx)
                        .isEqualTo(want);
                got.forEach(r -> assertThat(r.cause()).isEqualTo(EvictionCause.MEMORY));
            }
            index.checkInvariants();
            assertThat(arena.chunkCount() - 2)
                    .as(ctx + ": chunks mostly garbage are emptied")
                    .isLessThanOrEqualTo((int) (5 * arena.liveBytes() / 4096));
            assertThat(index.heapEstimate()).as(ctx).isEqualTo(model.heap());
            assertThat(index.uniqueBytes()).as(ctx).isEqualTo(model.uniqueBytes());
            assertThat(index.entryCount()).as(ctx).isEqualTo(model.entries.size());
            assertThat(index.blobCount()).as(ctx).isEqualTo(model.blobs().size());
            for (GroupId gg : GROUPS) {
                assertThat(index.groupBytes(gg)).as(ctx).isEqualTo(model.groupBytes(gg));
            }
            if (step % 500 == 0) {
                for (Model.M m : model.entries.values()) {
                    Entry e = index.get(m.key());
                    assertThat(e).as(ctx).isNotNull();
                    assertThat(e.lastUse()).as(ctx).isEqualTo(m.lastUse());
                    assertThat(e.files()).isEqualTo(m.files());
                }
            }
        }
    }

    @Test
    void evictNode_everythingPinned_evictsNothingAndStops() {
        Index index = new Index();
        EntryKey k = new EntryKey(GROUPS.get(0), "x/");
        index.put(new Entry(k, List.of(new EntryFile("f", Blake3.hash(new byte[] {1}), 10, false)), 1, 1, ""));
        assertThat(index.evictNode(0, key -> true)).isEmpty();
        assertThat(index.uniqueBytes()).isEqualTo(10);
    }

    @Test
    void sharedBlob_isFreedOnlyWithItsLastEntry() {
        Index index = new Index();
        Address shared = Blake3.hash(new byte[] {7});
        EntryKey a = new EntryKey(GROUPS.get(0), "a/");
        EntryKey b = new EntryKey(GROUPS.get(2), "b/");
        index.put(new Entry(a, List.of(new EntryFile("f", shared, 100, false)), 1, 1, ""));
        index.put(new Entry(b, List.of(new EntryFile("g", shared, 100, false)), 2, 2, ""));
        assertThat(index.uniqueBytes()).isEqualTo(100);
        assertThat(index.remove(a, EvictionCause.DELETED).freedBlobs()).isEmpty();
        assertThat(index.remove(b, EvictionCause.DELETED).freedBlobs()).containsExactly(shared);
        assertThat(new TreeSet<>(index.groups())).isEmpty();
    }
}
