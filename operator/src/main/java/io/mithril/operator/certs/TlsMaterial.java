package io.mithril.operator.certs;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * What the webhook serves: its private key, its certificate chain (serving certificate first) and the
 * PEM bundle of the CAs the API server must trust for it ({@code caBundle}; empty when the source does
 * not know it, as with cert-manager, whose CA injector keeps the bundle).
 */
public record TlsMaterial(PrivateKey key, List<X509Certificate> chain, String caBundlePem) {

    private static final char[] PASSWORD = "mithril".toCharArray();

    public TlsMaterial {
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("a certificate chain needs at least the serving certificate");
        }
    }

    /** The serving certificate. */
    public X509Certificate certificate() {
        return chain.get(0);
    }

    /** A PKCS#12 key store with the key and chain under the alias {@code webhook}. */
    /** The CA in {@link #caBundlePem()} that issued the serving certificate, or null when none matches (or cannot be read). */
    public X509Certificate issuingCa() {
        try {
            for (X509Certificate ca : Pem.parseCertificates(caBundlePem)) {
                if (ca.getSubjectX500Principal().equals(certificate().getIssuerX500Principal())) {
                    return ca;
                }
            }
        } catch (CertificateException e) {
            return null;
        }
        return null;
    }

    public KeyStore keyStore(char[] password) throws GeneralSecurityException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("webhook", key, password, chain.toArray(Certificate[]::new));
            return ks;
        } catch (IOException e) {
            throw new GeneralSecurityException(e); // load(null) reads nothing
        }
    }

    /** A server-side TLS context presenting this material. */
    public SSLContext sslContext() throws GeneralSecurityException {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore(PASSWORD), PASSWORD);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }

    /** Whether both present the same serving certificate and CA bundle (nothing to reload). */
    public boolean sameAs(TlsMaterial other) {
        try {
            return other != null
                    && Arrays.equals(
                            certificate().getEncoded(), other.certificate().getEncoded())
                    && caBundlePem.equals(other.caBundlePem);
        } catch (CertificateEncodingException e) {
            return false;
        }
    }
}
