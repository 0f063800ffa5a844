package io.mithril.agent;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Remotes that fail as real ones do, for tests; each is added to {@code open} for the test to close. */
public final class BadRemotes {
    private BadRemotes() {}

    /** Accepts every connection and never writes a byte; returns its port. */
    public static int stalled(List<AutoCloseable> open) throws IOException {
        ServerSocket ss = new ServerSocket(0);
        List<Socket> held = new CopyOnWriteArrayList<>();
        Thread t = new Thread(() -> {
            try {
                while (true) {
                    held.add(ss.accept());
                }
            } catch (IOException closed) {
                // the test is over
            }
        });
        t.setDaemon(true);
        t.start();
        open.add(() -> {
            ss.close();
            for (Socket s : held) {
                s.close();
            }
        });
        return ss.getLocalPort();
    }

    /** Answers every request 503 SlowDown, as S3 does when it throttles, counting them; returns its port. */
    public static int throttling(AtomicInteger requests, List<AutoCloseable> open) throws IOException {
        HttpServer h = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        byte[] body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                        + "<Message>Please reduce your request rate.</Message></Error>")
                .getBytes(StandardCharsets.UTF_8);
        h.createContext("/", x -> {
            requests.incrementAndGet();
            x.getRequestBody().readAllBytes();
            x.getResponseHeaders().add("Content-Type", "application/xml");
            x.sendResponseHeaders(503, body.length);
            x.getResponseBody().write(body);
            x.close();
        });
        h.start();
        open.add(() -> h.stop(0));
        return h.getAddress().getPort();
    }
}
