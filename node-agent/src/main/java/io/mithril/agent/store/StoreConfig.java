package io.mithril.agent.store;

import io.mithril.agent.cas.BlobStore;
import io.mithril.agent.index.Index;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * The capacity model and the edges a store needs, fixed at open.
 *
 * <ul>
 *   <li>{@code hardLimit}: bytes of blobs the node may hold, committed plus reserved for in-flight
 *       writes by every process on the root. Never exceeded: a write that does not fit evicts
 *       synchronously, and is refused with {@link StoreFullException} if it still does not fit.</li>
 *   <li>{@code softLimit}: the background evictor brings usage down to it whenever a commit leaves
 *       usage above it, so that writes rarely wait.</li>
 *   <li>{@code freeSpaceReserve}: free space kept on the store's filesystem. The hard limit in force is
 *       the smaller of {@code hardLimit} and what the filesystem can take before its free space
 *       (statvfs, {@link java.nio.file.FileStore#getUsableSpace()}) would fall under the reserve:
 *       writes stop, evicting first, before the reserve is reached, never after.</li>
 *   <li>{@code orphanGrace}: how old an unreferenced blob must be before the sweep deletes it while
 *       another process is alive on the root (it may be between its put and its commit).</li>
 *   <li>{@code indexHeap}: heap bytes the in-memory index may take, by its measured cost per
 *       entry, file and blob ({@link Index#heapEstimate()}). A store that would outgrow it evicts
 *       least recently used entries (cause {@code MEMORY}) instead of running the agent out of
 *       memory. By default {@link #INDEX_HEAP_SHARE} of the JVM's maximum heap.</li>
 * </ul>
 */
public record StoreConfig(
        long hardLimit,
        long softLimit,
        Duration orphanGrace,
        LongSupplier clock,
        BlobStore.WriteFaults faults,
        boolean reconcileOnOpen,
        FreeSpaceReserve freeSpaceReserve,
        long indexHeap) {

    public static final long UNLIMITED = Long.MAX_VALUE / 4;
    /**
     * The share of the maximum heap the index may fill: the rest is the agent's other work, a
     * journal batch being decoded, and the collector's headroom.
     */
    public static final double INDEX_HEAP_SHARE = 0.6;

    public StoreConfig {
        if (hardLimit <= 0 || softLimit <= 0 || softLimit > hardLimit) {
            throw new IllegalArgumentException(
                    "need 0 < soft limit <= hard limit, got soft " + softLimit + " hard " + hardLimit);
        }
        if (indexHeap <= 0) {
            throw new IllegalArgumentException("need a positive index heap, got " + indexHeap);
        }
    }

    /** {@link #INDEX_HEAP_SHARE} of this JVM's maximum heap. */
    public static long defaultIndexHeap() {
        return (long) (Runtime.getRuntime().maxMemory() * INDEX_HEAP_SHARE);
    }

    public static StoreConfig defaults() {
        return new StoreConfig(
                UNLIMITED,
                UNLIMITED,
                Duration.ofMinutes(10),
                System::currentTimeMillis,
                BlobStore.WriteFaults.NONE,
                true,
                FreeSpaceReserve.NONE,
                defaultIndexHeap());
    }

    /** A hard limit with the soft watermark at 90 % of it. */
    public StoreConfig withBudget(long hard) {
        return new StoreConfig(
                hard,
                Math.max(1, hard / 10 * 9),
                orphanGrace,
                clock,
                faults,
                reconcileOnOpen,
                freeSpaceReserve,
                indexHeap);
    }

    public StoreConfig withLimits(long hard, long soft) {
        return new StoreConfig(hard, soft, orphanGrace, clock, faults, reconcileOnOpen, freeSpaceReserve, indexHeap);
    }

    public StoreConfig withClock(LongSupplier c) {
        return new StoreConfig(
                hardLimit, softLimit, orphanGrace, c, faults, reconcileOnOpen, freeSpaceReserve, indexHeap);
    }

    public StoreConfig withFaults(BlobStore.WriteFaults f) {
        return new StoreConfig(
                hardLimit, softLimit, orphanGrace, clock, f, reconcileOnOpen, freeSpaceReserve, indexHeap);
    }

    public StoreConfig withReconcileOnOpen(boolean r) {
        return new StoreConfig(hardLimit, softLimit, orphanGrace, clock, faults, r, freeSpaceReserve, indexHeap);
    }

    public StoreConfig withFreeSpaceReserve(FreeSpaceReserve r) {
        return new StoreConfig(hardLimit, softLimit, orphanGrace, clock, faults, reconcileOnOpen, r, indexHeap);
    }

    /** The heap bytes the index may take before it evicts to fit (see {@link Index#heapEstimate()}). */
    public StoreConfig withIndexHeap(long bytes) {
        return new StoreConfig(
                hardLimit, softLimit, orphanGrace, clock, faults, reconcileOnOpen, freeSpaceReserve, bytes);
    }

    public StoreConfig withOrphanGrace(Duration g) {
        return new StoreConfig(hardLimit, softLimit, g, clock, faults, reconcileOnOpen, freeSpaceReserve, indexHeap);
    }
}
