package io.mithril.agent.kube;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/** Stopping the agent's executors: running work ends on its own if it can, queued work is dropped. */
final class Drain {
    private Drain() {}

    /**
     * Takes no more work and cancels what waits, lets what runs finish for up to {@code seconds},
     * then interrupts what is left. An ingest pass cut short by an interrupt loses its upload queue
     * records and leaves threads writing under a store that is being closed; one that ends in time
     * does neither.
     */
    static void executor(ExecutorService e, long seconds) {
        e.shutdown(); // a scheduled executor drops its periodic tasks here too
        try {
            if (!e.awaitTermination(seconds, TimeUnit.SECONDS)) {
                e.shutdownNow();
            }
        } catch (InterruptedException interrupted) {
            e.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
