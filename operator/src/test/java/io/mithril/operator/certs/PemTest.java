package io.mithril.operator.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class PemTest {

    @Test
    void certificatesAndPkcs8Key_roundTrip() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create("pem-test", Duration.ofDays(1));
        CertificateAuthority.Issued i = ca.issue(List.of("a.example"), Duration.ofHours(1));

        String bundle = Pem.certificates(List.of(i.certificate(), ca.certificate()));

        assertThat(Pem.parseCertificates(bundle)).containsExactly(i.certificate(), ca.certificate());
        assertThat(Pem.privateKey(i.keys().getPrivate())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(Pem.parsePrivateKey(Pem.privateKey(i.keys().getPrivate())))
                .isEqualTo(i.keys().getPrivate());
        assertThat(Pem.matches(i.keys().getPrivate(), i.certificate())).isTrue();
        assertThat(Pem.matches(i.keys().getPrivate(), ca.certificate())).isFalse();
    }

    /**
     * Keys made by OpenSSL in {@code src/test/resources/pem}: {@code openssl ecparam -genkey -name prime256v1 -noout}
     * (SEC1, as cert-manager writes ECDSA keys by default), {@code openssl genrsa -traditional 2048} (PKCS#1), each
     * also converted with {@code openssl pkcs8 -topk8 -nocrypt}.
     */
    @Test
    void parsePrivateKey_sec1AndPkcs1Keys_equalTheirPkcs8Forms() throws Exception {
        for (String alg : List.of("ec", "rsa")) {
            String traditional = resource(alg + (alg.equals("ec") ? "-sec1.key" : "-pkcs1.key"));
            assertThat(traditional).startsWith("-----BEGIN " + alg.toUpperCase() + " PRIVATE KEY-----");
            PrivateKey k = Pem.parsePrivateKey(traditional);
            assertThat(k.getAlgorithm()).isEqualTo(alg.toUpperCase());
            assertThat(secret(k)).isEqualTo(secret(Pem.parsePrivateKey(resource(alg + "-pkcs8.key"))));
        }
    }

    /** The secret number itself (the encodings differ: the SEC1 form repeats the curve inside). */
    static BigInteger secret(PrivateKey k) {
        return k instanceof ECPrivateKey ec ? ec.getS() : ((RSAPrivateKey) k).getPrivateExponent();
    }

    static String resource(String name) throws Exception {
        try (InputStream in = PemTest.class.getResourceAsStream("/pem/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    @Test
    void parse_garbage_failsWithAReason() {
        assertThatThrownBy(() -> Pem.parseCertificates("hello"))
                .isInstanceOf(CertificateException.class)
                .hasMessage("no PEM certificate");
        assertThatThrownBy(() -> Pem.parsePrivateKey("hello"))
                .isInstanceOf(GeneralSecurityException.class)
                .hasMessage("no PEM private key");
        assertThatThrownBy(() -> Pem.parsePrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
                .isInstanceOf(GeneralSecurityException.class)
                .hasMessageStartingWith("unreadable PEM private key");
    }
}
