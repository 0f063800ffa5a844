package io.mithril.agent.remote;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * What one {@link Remote} did since it was opened, for metrics: its circuit breaker's state, requests
 * by operation and result, bytes up and down, blobs and manifests rejected. Counters only grow; all
 * reads are cheap and thread-safe.
 */
public final class RemoteStats {
    /** The circuit breaker's state. */
    public enum Circuit {
        CLOSED,
        OPEN,
        HALF_OPEN
    }

    /** The S3 operations the remote tier makes. */
    public enum Operation {
        GET,
        HEAD,
        PUT,
        LIST,
        DELETE
    }

    /**
     * How a request ended. {@code ABSENT}: a 404 (GET, HEAD); {@code EXISTS}: a conditional PUT that
     * found the key (412/409); {@code ERROR}: a failure of the remote (timeout, refused, 5xx, 403, after
     * the SDK's retries); {@code REFUSED}: not sent, the circuit being open (no request was made).
     */
    public enum Result {
        OK,
        ABSENT,
        EXISTS,
        ERROR,
        REFUSED
    }

    private final AtomicLongArray requests = new AtomicLongArray(Operation.values().length * Result.values().length);
    private final AtomicLong bytesUp = new AtomicLong();
    private final AtomicLong bytesDown = new AtomicLong();
    private final AtomicLong rejectedBlobs = new AtomicLong();
    private final AtomicLong rejectedManifests = new AtomicLong();
    private final AtomicLong rejectedFrames = new AtomicLong();
    private final AtomicInteger putsInFlight = new AtomicInteger();
    private final AtomicInteger putsPeak = new AtomicInteger();
    private final Supplier<Circuit> circuit;
    private final Supplier<Long> opened;

    /** Counters reading the circuit's state and its openings from the given suppliers. */
    public RemoteStats(Supplier<Circuit> circuit, Supplier<Long> opened) {
        this.circuit = circuit;
        this.opened = opened;
    }

    public Circuit circuit() {
        return circuit.get();
    }

    /** How many times the circuit opened. */
    public long circuitOpened() {
        return opened.get();
    }

    public long requests(Operation op, Result result) {
        return requests.get(op.ordinal() * Result.values().length + result.ordinal());
    }

    /** Requests sent to the remote (every result but {@code REFUSED}). */
    public long requests() {
        long n = 0;
        for (Operation op : Operation.values()) {
            for (Result r : Result.values()) {
                if (r != Result.REFUSED) {
                    n += requests(op, r);
                }
            }
        }
        return n;
    }

    /** Every non-zero counter, by operation and result. */
    public Map<Operation, Map<Result, Long>> byOperation() {
        Map<Operation, Map<Result, Long>> m = new EnumMap<>(Operation.class);
        for (Operation op : Operation.values()) {
            for (Result r : Result.values()) {
                long n = requests(op, r);
                if (n > 0) {
                    m.computeIfAbsent(op, o -> new EnumMap<>(Result.class)).put(r, n);
                }
            }
        }
        return m;
    }

    /** Bytes sent in PUT bodies. */
    public long bytesUp() {
        return bytesUp.get();
    }

    /** Bytes read from GET bodies. */
    public long bytesDown() {
        return bytesDown.get();
    }

    /** Fetched blobs whose bytes did not match their address or size (counted by the caller of a fill). */
    public long rejectedBlobs() {
        return rejectedBlobs.get();
    }

    /** Manifests that failed authentication or did not parse. */
    public long rejectedManifests() {
        return rejectedManifests.get();
    }

    /** Counts blobs a fill from this remote dropped (the {@code Filler} finds them; the remote cannot). */
    public void blobsRejected(long n) {
        rejectedBlobs.addAndGet(n);
    }

    /** Counts one request and how it ended. */
    public void request(Operation op, Result result) {
        requests.incrementAndGet(op.ordinal() * Result.values().length + result.ordinal());
    }

    void up(long n) {
        bytesUp.addAndGet(n);
    }

    void down(long n) {
        bytesDown.addAndGet(n);
    }

    /**
     * Compressed blobs not inflated: a frame that was malformed, cut, or would inflate past the size the
     * manifest gives (or past the inflate limit). Each is also a rejected blob of its fill.
     */
    public long rejectedFrames() {
        return rejectedFrames.get();
    }

    /** The most PUTs that were in flight at once (bounded by the upload concurrency). */
    public int putsPeak() {
        return putsPeak.get();
    }

    void putStarted() {
        putsPeak.accumulateAndGet(putsInFlight.incrementAndGet(), Math::max);
    }

    void putEnded() {
        putsInFlight.decrementAndGet();
    }

    void frameRejected() {
        rejectedFrames.incrementAndGet();
    }

    void manifestRejected() {
        rejectedManifests.incrementAndGet();
    }

    @Override
    public String toString() {
        return "circuit " + circuit() + ", " + requests() + " requests " + byOperation() + ", " + bytesUp() + " B up, "
                + bytesDown() + " B down, " + rejectedBlobs() + " blobs and " + rejectedManifests()
                + " manifests rejected";
    }
}
