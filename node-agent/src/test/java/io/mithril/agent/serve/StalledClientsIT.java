package io.mithril.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clients that send part of a request and stop must not stall the other endpoints, /healthz included (kubelet's liveness probe). */
class StalledClientsIT {
    @TempDir
    Path tmp;

    @Test
    void fourStalledConnections_blockHealthz() throws Exception {
        try (NodeStore store = NodeStore.open(Files.createDirectory(tmp.resolve("root")), StoreConfig.defaults());
                AgentServer server =
                        new AgentServer(store, new AgentMetrics(), new InetSocketAddress("127.0.0.1", 0))) {
            server.start();
            HttpClient http = HttpClient.newHttpClient();
            HttpRequest healthz = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/healthz"))
                    .timeout(Duration.ofSeconds(2))
                    .build();
            HttpRequest first = HttpRequest.newBuilder(healthz.uri())
                    .timeout(Duration.ofSeconds(30)) // the server's first answer: its classes load now
                    .build();
            assertThat(http.send(first, HttpResponse.BodyHandlers.ofString()).statusCode())
                    .isEqualTo(200);
            List<Socket> stalls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Socket s = new Socket("127.0.0.1", server.port());
                OutputStream o = s.getOutputStream();
                o.write("G".getBytes()); // one byte of a request line, then nothing
                o.flush();
                stalls.add(s);
            }
            Thread.sleep(300);
            boolean timedOut = false;
            try {
                http.send(healthz, HttpResponse.BodyHandlers.ofString());
            } catch (HttpTimeoutException e) {
                timedOut = true;
            }
            for (Socket s : stalls) {
                s.close();
            }
            assertThat(timedOut)
                    .as("/healthz should still answer while 4 clients stall")
                    .isFalse();
        }
    }
}
