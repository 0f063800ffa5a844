package io.mithril.agent.kube;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** Stopping the agent's executors: work that runs may end on its own, work that waits is dropped. */
final class Drain {
    private Drain() {}

    /**
     * Takes no more work and drops what waits (a queued task that is a future is cancelled, so
     * whoever waits on it returns; a scheduled executor drops its periodic tasks at shutdown), lets
     * what runs finish until {@code deadlineNanos} ({@link System#nanoTime()}), then interrupts what
     * is left. An ingest pass that ends in time keeps its upload records and writes nothing under a
     * store being closed; one cut short loses only what it had not recorded yet.
     */
    static void executor(ExecutorService e, long deadlineNanos) {
        e.shutdown();
        if (e instanceof ThreadPoolExecutor pool) {
            List<Runnable> queued = new ArrayList<>();
            pool.getQueue().drainTo(queued);
            for (Runnable r : queued) {
                if (r instanceof Future<?> f) {
                    f.cancel(false);
                }
            }
        }
        try {
            if (!e.awaitTermination(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                e.shutdownNow();
            }
        } catch (InterruptedException interrupted) {
            e.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
