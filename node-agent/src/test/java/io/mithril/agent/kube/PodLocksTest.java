package io.mithril.agent.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PodLocksTest {

    static final String UID = "0f8c2a1e-1111-4222-8333-944455556666";

    @Test
    void aThreadWaitingWhileThePodEnds_neverRunsBesideOneThatCameLater() throws Exception {
        PodLocks locks = new PodLocks();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        CountDownLatch waiting = new CountDownLatch(1);
        Runnable step = () -> {
            try (PodLocks.Held h = locks.hold(UID)) {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                inside.decrementAndGet();
            }
        };
        Thread waiter;
        try (PodLocks.Held gone = locks.hold(UID)) { // the pod's end holds its lock
            waiter = new Thread(() -> {
                waiting.countDown();
                step.run();
            });
            waiter.start();
            assertThat(waiting.await(5, TimeUnit.SECONDS)).isTrue();
            while (waiter.getState() != Thread.State.WAITING) {
                Thread.onSpinWait();
            }
        }
        Thread later = new Thread(step); // a late event of the same pod
        later.start();
        waiter.join(5_000);
        later.join(5_000);
        assertThat(most.get()).as("steps of one pod at once").isEqualTo(1);
        assertThat(locks.size()).as("no lock kept for a pod nobody holds").isZero();
    }

    @Test
    void locksOfDifferentPodsAreIndependent_andLeaveNothingBehind() throws Exception {
        PodLocks locks = new PodLocks();
        try (PodLocks.Held a = locks.hold(UID)) {
            Thread other = new Thread(() -> {
                try (PodLocks.Held b = locks.hold("1f8c2a1e-1111-4222-8333-944455556666")) {
                    assertThat(locks.size()).isEqualTo(2);
                }
            });
            other.start();
            other.join(5_000);
            assertThat(other.isAlive()).as("another pod's lock is not held up").isFalse();
            assertThat(locks.size()).isEqualTo(1);
        }
        assertThat(locks.size()).isZero();
    }
}
