package io.mithril.agent.store;

import java.io.Closeable;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.MDC;

/**
 * The one thread that does a store's locked work: its file lock, journal and lease writes. An
 * interrupt that reaches a thread inside a channel operation closes that channel for the whole
 * process ({@link java.nio.channels.ClosedByInterruptException}), and callers do get interrupted
 * (an executor's {@code shutdownNow}, a watch closed, a client gone). Nobody interrupts this
 * thread, so the store's long-lived channels stay open whatever happens to its callers. A caller
 * interrupted while it waits keeps waiting for the result, and keeps its interrupt: it waits as long
 * as the work takes, so as long as another process holds the store's file lock (as it did before,
 * except that an interrupt no longer cuts the wait short by breaking the store).
 */
final class StoreThread implements Closeable {

    /** Work that may throw an {@link IOException}. */
    @FunctionalInterface
    interface Work<T> {
        T call() throws IOException;
    }

    private final ExecutorService executor;
    private volatile Thread thread;

    StoreThread(String name) {
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            thread = t;
            return t;
        });
    }

    /** Runs {@code work} on this thread (directly when already on it) and returns what it returned or throws what it threw. */
    <T> T call(Work<T> work) throws IOException {
        if (Thread.currentThread() == thread) {
            return work.call();
        }
        Map<String, String> context = MDC.getCopyOfContextMap(); // its log lines name the caller's pod
        Future<T> f;
        try {
            f = executor.submit(() -> {
                if (context == null) {
                    return work.call();
                }
                MDC.setContextMap(context);
                try {
                    return work.call();
                } finally {
                    MDC.clear();
                }
            });
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("store is closed");
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the work is under way; leaving now would leave it half-seen
                } catch (ExecutionException e) {
                    throw rethrow(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static IOException rethrow(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        if (cause instanceof RuntimeException r) {
            throw r;
        }
        if (cause instanceof Error err) {
            throw err;
        }
        return new IOException(cause);
    }

    /** Lets queued work finish, takes no more; never interrupts the thread. */
    @Override
    public void close() {
        executor.shutdown();
    }
}
