package io.mithril.agent.remote;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.function.LongSupplier;

/**
 * A token bucket of bytes per second shared by every upload of a {@link Remote}: a PUT's body is
 * read through {@link #throttle}, which waits for tokens before handing bytes on. The bucket holds
 * at most one second's worth (the burst); 0 bytes/s means no limit.
 */
final class RateLimiter {
    private final long bytesPerSecond;
    private final LongSupplier nanoTime;
    private double tokens;
    private long last;

    RateLimiter(long bytesPerSecond, LongSupplier nanoTime) {
        this.bytesPerSecond = Math.max(0, bytesPerSecond);
        this.nanoTime = nanoTime;
        this.tokens = this.bytesPerSecond;
        this.last = nanoTime.getAsLong();
    }

    boolean limited() {
        return bytesPerSecond > 0;
    }

    /** Takes {@code n} tokens, waiting until there are enough (n at most the burst: callers take small chunks). */
    void acquire(long n) throws InterruptedException {
        if (!limited()) {
            return;
        }
        long wait;
        synchronized (this) {
            long now = nanoTime.getAsLong();
            tokens = Math.min(bytesPerSecond, tokens + (now - last) * (double) bytesPerSecond / 1e9);
            last = now;
            tokens -= n; // may go negative: the next callers wait for it too, so the rate holds across threads
            wait = tokens >= 0 ? 0 : (long) (-tokens * 1e9 / bytesPerSecond);
        }
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
    }

    /** {@code in}, read no faster than the limit allows. */
    InputStream throttle(InputStream in) {
        return limited() ? new Throttled(in) : in;
    }

    private final class Throttled extends FilterInputStream {
        private static final int CHUNK = 64 * 1024;

        Throttled(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int c = super.read();
            if (c >= 0) {
                take(1);
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, Math.min(len, (int) Math.min(CHUNK, Math.max(1, bytesPerSecond))));
            if (n > 0) {
                take(n);
            }
            return n;
        }

        private void take(long n) throws IOException {
            try {
                acquire(n);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("upload interrupted while throttled");
            }
        }
    }
}
