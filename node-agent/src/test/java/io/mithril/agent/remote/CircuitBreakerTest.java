package io.mithril.agent.remote;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.remote.RemoteStats.Circuit;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
    private static final long S = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong now = new AtomicLong(1_000 * S);
    private final CircuitBreaker b = new CircuitBreaker(3, 10 * S, now::get);

    @Test
    void opensAfterConsecutiveFailuresOnly() {
        b.failure();
        b.failure();
        b.success(); // not consecutive
        b.failure();
        b.failure();
        assertThat(b.state()).isEqualTo(Circuit.CLOSED);
        assertThat(b.allow()).isTrue();
        b.failure();
        assertThat(b.state()).isEqualTo(Circuit.OPEN);
        assertThat(b.allow()).isFalse();
        assertThat(b.timesOpened()).isEqualTo(1);
    }

    @Test
    void halfOpenAfterTheCoolDownWithJitter_oneProbe_thenClosesOrOpensAgain() {
        for (int i = 0; i < 3; i++) {
            b.failure();
        }
        now.addAndGet(10 * S - 1);
        assertThat(b.allow()).as("inside the cool-down").isFalse();
        now.addAndGet(5 * S + 1); // past the cool-down plus the most jitter (half of it)
        assertThat(b.allow()).as("the probe").isTrue();
        assertThat(b.state()).isEqualTo(Circuit.HALF_OPEN);
        assertThat(b.allow()).as("one probe at a time").isFalse();
        b.failure();
        assertThat(b.state()).as("a failed probe opens it again at once").isEqualTo(Circuit.OPEN);
        assertThat(b.allow()).isFalse();
        now.addAndGet(15 * S + 1);
        assertThat(b.allow()).isTrue();
        b.success();
        assertThat(b.state()).isEqualTo(Circuit.CLOSED);
        assertThat(b.allow()).isTrue();
        assertThat(b.timesOpened()).isEqualTo(2);
    }
}
