package io.mithril.agent.cli;

import io.mithril.agent.serve.AgentMetrics;
import io.mithril.agent.serve.AgentServer;
import io.mithril.agent.store.NodeStore;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", description = "Run the agent: health, readiness, Prometheus metrics and per-group stats over HTTP.")
final class ServeCmd implements Callable<Integer> {

    @CommandLine.ParentCommand
    AgentMain main;
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--listen", defaultValue = "${env:MITHRIL_LISTEN:-127.0.0.1:9464}", paramLabel = "HOST:PORT",
            description = "Address of the HTTP API; default ${DEFAULT-VALUE}.")
    String listen;

    @Override
    public Integer call() throws Exception {
        int colon = listen.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--listen wants HOST:PORT, got " + listen);
        }
        InetSocketAddress addr = new InetSocketAddress(listen.substring(0, colon), Integer.parseInt(listen.substring(colon + 1)));
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        // On SIGTERM the hook releases main, then waits (bounded) until the store is closed cleanly.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.countDown();
            try {
                closed.await(20, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try (NodeStore store = main.openStore(true); AgentServer server = new AgentServer(store, new AgentMetrics(), addr)) {
            server.start();
            spec.commandLine().getErr().println("mithril-agent: serving " + store.root() + " on http://" + listen.substring(0, colon) + ":" + server.port());
            spec.commandLine().getErr().flush();
            stop.await();
        } finally {
            closed.countDown();
        }
        return 0;
    }
}
