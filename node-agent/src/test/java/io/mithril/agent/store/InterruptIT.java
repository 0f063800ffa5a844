package io.mithril.agent.store;

import static io.mithril.agent.store.StoreFixture.H100;
import static io.mithril.agent.store.StoreFixture.bytes;
import static io.mithril.agent.store.StoreFixture.commit;
import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.index.EntryKey;
import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threads that use the store get interrupted: an executor's {@code shutdownNow}, an informer's
 * close, a client gone. An interrupt during a channel operation closes that channel for every
 * thread, so were the store's own channels (its lock, journal and lease) touched on an
 * interruptible thread, one interrupt would break the store for the rest of the process and its
 * close would leave no clean mark. This drives the store from threads interrupted at random and
 * then asks everything of it.
 */
class InterruptIT {

    @TempDir
    Path root;

    @Test
    void interruptedCallers_failAtMostTheirOwnBlobWrite_theStoreKeepsWorkingAndClosesCleanly() throws Exception {
        Set<EntryKey> committed = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> unexpected = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                int id = w;
                Thread t = new Thread(
                        () -> {
                            for (int i = 0; !stop.get(); i++) {
                                Thread.interrupted(); // a fresh start for each round
                                String name = "w" + id + "/" + i + "/";
                                try {
                                    commit(s, H100, name, bytes(id * 100_000L + i, 2000 + i % 7000));
                                    committed.add(new EntryKey(H100, name));
                                    s.pin(List.of(new EntryKey(H100, name))).close();
                                    s.stats();
                                    if (i % 5 == 0) {
                                        s.delete(new EntryKey(H100, name));
                                        committed.remove(new EntryKey(H100, name));
                                    }
                                } catch (ClosedByInterruptException e) {
                                    // the caller's own blob write, interrupted: that put fails, nothing else
                                } catch (Throwable e) {
                                    unexpected.compareAndSet(null, e);
                                    return;
                                }
                            }
                        },
                        "worker-" + w);
                workers.add(t);
                t.start();
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            int interrupts = 0;
            while (System.nanoTime() < end && unexpected.get() == null) {
                for (Thread t : workers) {
                    t.interrupt();
                    interrupts++;
                }
                LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200 + interrupts % 700));
            }
            stop.set(true);
            for (Thread t : workers) {
                t.join(60_000);
            }
            assertThat(unexpected.get()).as("what a worker met").isNull();
            assertThat(committed).as("work got done between interrupts").isNotEmpty();
            // the store still takes its lock, appends to its journal and rewrites its lease
            commit(s, H100, "after/", bytes(9, 4321));
            committed.add(new EntryKey(H100, "after/"));
            assertThat(s.stats().entries()).isEqualTo(committed.size());
        }
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            assertThat(s.openedClean())
                    .as("the close after the interrupts was clean")
                    .isTrue();
            for (EntryKey k : committed) {
                assertThat(s.lookup(k)).as(k.toString()).isNotNull();
            }
            assertThat(s.stats().entries()).isEqualTo(committed.size());
            VerifyReport v = s.verify();
            assertThat(v.clean()).as(v.toString()).isTrue();
        }
    }

    @Test
    void aCallerWithItsInterruptSet_getsItsLockedWorkDone_andKeepsTheInterrupt() throws IOException {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            commit(s, H100, "x/", bytes(3, 1000));
            EntryKey k = new EntryKey(H100, "x/");
            Thread.currentThread().interrupt();
            try {
                s.pin(List.of(k)).close();
                assertThat(s.stats().entries()).isEqualTo(1);
                assertThat(s.delete(k)).isTrue();
                assertThat(Thread.currentThread().isInterrupted())
                        .as("the store never swallows an interrupt")
                        .isTrue();
            } finally {
                Thread.interrupted();
            }
            assertThat(s.lookup(k)).isNull();
            assertThat(s.stats().entries()).isZero();
        }
    }
}
