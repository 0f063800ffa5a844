package io.mithril.agent.exec;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Forwards SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 to the child (SIGQUIT stays the JVM's, for
 * thread dumps). The agent itself keeps running, so that it can ingest what the child wrote and then
 * return the child's exit status.
 */
final class SignalForwarder {

    private static final List<String> SIGNALS = List.of("INT", "TERM", "HUP", "USR1", "USR2");
    private static volatile Process target;
    private static final Queue<String> early = new ConcurrentLinkedQueue<>();

    private SignalForwarder() {}

    /**
     * Starts {@code command} with exactly {@code env} and this process's standard streams, the signals
     * this process gets forwarded to it until {@link #stop}.
     */
    static Process start(List<String> command, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
        pb.environment().clear();
        pb.environment().putAll(env);
        install();
        Process child = pb.start();
        forwardTo(child);
        return child;
    }

    /** Takes over the signals; call before starting the child, so none arrives unhandled. */
    static void install() {
        for (String s : SIGNALS) {
            try {
                Signal.handle(new Signal(s), Handler.INSTANCE);
            } catch (IllegalArgumentException e) {
                // signal not available here (or used by the JVM): not forwarded
            }
        }
    }

    /** Starts forwarding to the child, first delivering what arrived while it was starting. */
    static void forwardTo(Process child) {
        target = child;
        String s;
        while ((s = early.poll()) != null) {
            forward(s);
        }
    }

    /** A class, not a lambda: {@code exec}'s client installs it in its first milliseconds, before any lambda ran. */
    private static final class Handler implements SignalHandler {
        static final Handler INSTANCE = new Handler();

        @Override
        public void handle(Signal sig) {
            forward(sig.getName());
        }
    }

    static void stop() {
        target = null;
    }

    private static void forward(String name) {
        Process p = target;
        if (p == null) {
            early.add(name);
            return;
        }
        if (!p.isAlive()) {
            return;
        }
        try {
            new ProcessBuilder("kill", "-s", name, Long.toString(p.pid()))
                    .start()
                    .waitFor();
        } catch (Exception e) {
            p.destroy();
        }
    }
}
