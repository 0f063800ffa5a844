package io.mithril.operator.certs;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock the test moves; {@link #onNextRead} runs an action the next time the time is read. */
final class TestClock extends Clock {

    private volatile Instant now;
    private volatile Runnable onNextRead;

    TestClock(Instant start) {
        this.now = start;
    }

    static TestClock now() {
        return new TestClock(Instant.now());
    }

    void advance(Duration d) {
        now = now.plus(d);
    }

    /** Runs {@code action} once, inside the next {@link #instant()} call (before it returns). */
    void onNextRead(Runnable action) {
        onNextRead = action;
    }

    @Override
    public Instant instant() {
        Runnable r = onNextRead;
        if (r != null) {
            onNextRead = null;
            r.run();
        }
        return now;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        throw new UnsupportedOperationException();
    }
}
