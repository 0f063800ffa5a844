package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.operator.certs.CertificateAuthority;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/** Connections that send one byte of a ClientHello and stop must not block the webhook or its /healthz. */
class WebhookStalledClientsIT {
    @Test
    void fourStalledConnections_blockAdmission() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create("mithril-webhook-ca", Duration.ofDays(365));
        CertificateAuthority.Issued serving = ca.issue(List.of("localhost"), Duration.ofDays(30));
        char[] pw = "changeit".toCharArray();
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ca.keyStore(serving, pw), pw);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(kmf.getKeyManagers(), null, null);
        WebhookServer server = new WebhookServer(
                new InetSocketAddress("127.0.0.1", 0),
                serverTls,
                new PodMutator(Injection.defaults()),
                ns -> List.of());
        server.start();
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ca.trustStore());
            SSLContext clientTls = SSLContext.getInstance("TLS");
            clientTls.init(null, tmf.getTrustManagers(), null);
            HttpClient client = HttpClient.newBuilder().sslContext(clientTls).build();
            HttpRequest healthz = HttpRequest.newBuilder(URI.create("https://localhost:" + server.port() + "/healthz"))
                    .timeout(Duration.ofSeconds(30)) // the first handshake and answer: classes load now
                    .build();
            assertThat(client.send(healthz, HttpResponse.BodyHandlers.ofString())
                            .statusCode())
                    .isEqualTo(200);
            List<Socket> stalls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Socket s = new Socket("127.0.0.1", server.port());
                OutputStream o = s.getOutputStream();
                o.write(0x16); // first byte of a TLS record, then nothing
                o.flush();
                stalls.add(s);
            }
            Thread.sleep(300);
            boolean timedOut = false;
            try {
                client.send(
                        HttpRequest.newBuilder(URI.create("https://localhost:" + server.port() + "/healthz"))
                                .timeout(Duration.ofSeconds(3))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (HttpTimeoutException e) {
                timedOut = true;
            }
            for (Socket s : stalls) {
                s.close();
            }
            assertThat(timedOut)
                    .as("the webhook should answer within the API server's 3 s while 4 clients stall")
                    .isFalse();
        } finally {
            server.close();
        }
    }
}
