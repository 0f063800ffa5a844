package io.mithril.agent.remote;

import io.mithril.agent.remote.RemoteStats.Circuit;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Closed, then open after {@code threshold} consecutive failed calls (a timeout, a refused
 * connection, a 5xx after the SDK's retries): while open, calls are refused at once, so a pod's
 * fill costs no request and no waiting and uploads stay queued. After a cool-down (with up to
 * +50% jitter, so that a fleet does not probe in step) one call is let through (half-open): its
 * success closes the breaker, its failure opens it again for another cool-down.
 */
final class CircuitBreaker {
    private final int threshold;
    private final long coolDownNanos;
    private final LongSupplier nanoTime;
    private Circuit state = Circuit.CLOSED;
    private int failures;
    private long openUntil;
    private boolean probing;
    private long opened;

    CircuitBreaker(int threshold, long coolDownNanos, LongSupplier nanoTime) {
        this.threshold = Math.max(1, threshold);
        this.coolDownNanos = Math.max(0, coolDownNanos);
        this.nanoTime = nanoTime;
    }

    /** Whether a call may go to the remote now; a half-open breaker lets one probe through at a time. */
    synchronized boolean allow() {
        switch (state) {
            case CLOSED:
                return true;
            case OPEN:
                if (nanoTime.getAsLong() - openUntil < 0) {
                    return false;
                }
                state = Circuit.HALF_OPEN;
                probing = true;
                return true;
            default:
                if (probing) {
                    return false;
                }
                probing = true;
                return true;
        }
    }

    synchronized void success() {
        state = Circuit.CLOSED;
        failures = 0;
        probing = false;
    }

    synchronized void failure() {
        probing = false;
        if (state == Circuit.HALF_OPEN || ++failures >= threshold) {
            open();
        }
    }

    private void open() {
        state = Circuit.OPEN;
        failures = 0;
        opened++;
        long jitter = coolDownNanos == 0 ? 0 : ThreadLocalRandom.current().nextLong(coolDownNanos / 2 + 1);
        openUntil = nanoTime.getAsLong() + coolDownNanos + jitter;
    }

    synchronized Circuit state() {
        return state;
    }

    /** How many times it opened. */
    synchronized long timesOpened() {
        return opened;
    }
}
