package io.mithril.agent.kube;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per pod, held while that pod's steps run, so pods proceed in parallel but one pod's steps
 * never overlap. A pod's lock lives exactly as long as someone holds or waits for it: it is counted
 * in and out, and dropped when the last one leaves. (Removing it on a pod's end, as before, let a
 * thread that was waiting on the old lock run beside one that made a new lock for the same pod.)
 */
final class PodLocks {

    private static final class Lock {
        final ReentrantLock lock = new ReentrantLock();
        /** Threads holding or waiting for it; guarded by the map. */
        int users;
    }

    private final Map<String, Lock> locks = new HashMap<>();

    /** A held pod lock; closing it releases it. */
    final class Held implements AutoCloseable {
        private final String uid;
        private final Lock l;
        private boolean closed;

        private Held(String uid, Lock l) {
            this.uid = uid;
            this.l = l;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            l.lock.unlock();
            leave(uid, l);
        }
    }

    /** Waits for and takes the lock of pod {@code uid}. */
    Held hold(String uid) {
        Lock l;
        synchronized (locks) {
            l = locks.computeIfAbsent(uid, k -> new Lock());
            l.users++;
        }
        try {
            l.lock.lock();
        } catch (RuntimeException | Error e) {
            leave(uid, l);
            throw e;
        }
        return new Held(uid, l);
    }

    private void leave(String uid, Lock l) {
        synchronized (locks) {
            if (--l.users == 0) {
                locks.remove(uid, l);
            }
        }
    }

    /** Pods whose lock someone holds or waits for. */
    int size() {
        synchronized (locks) {
            return locks.size();
        }
    }
}
