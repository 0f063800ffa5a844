package io.mithril.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.operator.certs.CertificateAuthority;
import io.mithril.operator.certs.TlsMaterial;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link WebhookServer#reloadTls} over real TLS handshakes: which certificate does a connection see? */
class WebhookServerTlsReloadIT {

    CertificateAuthority ca;
    WebhookServer server;
    SSLContext client;

    @BeforeEach
    void start() throws Exception {
        ca = CertificateAuthority.create("reload-test-ca", Duration.ofDays(30));
        server = new WebhookServer(
                new InetSocketAddress("127.0.0.1", 0),
                material().sslContext(),
                new PodMutator(Injection.defaults()),
                ns -> List.of());
        server.start();
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ca.trustStore());
        client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    TlsMaterial material() throws Exception {
        CertificateAuthority.Issued i = ca.issue(List.of("localhost"), Duration.ofDays(7));
        return new TlsMaterial(i.keys().getPrivate(), List.of(i.certificate(), ca.certificate()), "");
    }

    SSLSocket connect() throws Exception {
        SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", server.port());
        s.startHandshake();
        return s;
    }

    static BigInteger peerSerial(SSLSocket s) throws Exception {
        return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    static String healthz(SSLSocket s) throws Exception {
        OutputStream out = s.getOutputStream();
        out.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
    }

    @Test
    void reloadTls_newConnectionGetsTheNewCertificate_openConnectionKeepsItsOwn() throws Exception {
        BigInteger before;
        try (SSLSocket old = connect()) {
            before = peerSerial(old);
            TlsMaterial next = material();
            assertThat(next.certificate().getSerialNumber()).isNotEqualTo(before);

            server.reloadTls(next.sslContext());

            try (SSLSocket fresh = connect()) {
                assertThat(peerSerial(fresh)).isEqualTo(next.certificate().getSerialNumber());
                assertThat(healthz(fresh)).isEqualTo("HTTP/1.1 200 OK");
            }
            assertThat(healthz(old)).isEqualTo("HTTP/1.1 200 OK");
            assertThat(peerSerial(old)).isEqualTo(before);
        }
    }
}
