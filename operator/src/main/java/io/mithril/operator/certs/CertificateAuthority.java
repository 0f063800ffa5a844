package io.mithril.operator.certs;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The operator's own small CA: a self-signed root and serving certificates for the webhook's
 * Service DNS names (ECDSA P-256). The API server trusts the root through the webhook
 * configuration's {@code caBundle}. Rotation (re-issuing before expiry, keeping the old root in the
 * bundle for a while) is {@link CertificateManager}'s job and builds on {@link #issue}.
 */
public final class CertificateAuthority {

    /** A key pair with its certificate. */
    public record Issued(KeyPair keys, X509Certificate certificate) {}

    private final Issued root;

    private CertificateAuthority(Issued root) {
        this.root = root;
    }

    public static CertificateAuthority create(String name, Duration validity) throws Exception {
        return create(name, validity, Clock.systemUTC());
    }

    /** A new self-signed root valid from five minutes before {@code clock}'s now for {@code validity}. */
    public static CertificateAuthority create(String name, Duration validity, Clock clock) throws Exception {
        KeyPair kp = keyPair();
        X500Name subject = new X500Name("CN=" + name);
        Instant now = clock.instant();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                subject,
                serial(),
                Date.from(now.minusSeconds(300)),
                Date.from(now.plus(validity)),
                subject,
                kp.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        return new CertificateAuthority(new Issued(kp, sign(b, kp)));
    }

    /** A CA from a root and its keys kept elsewhere (the webhook Secret); the caller checks they match. */
    static CertificateAuthority of(Issued root) {
        return new CertificateAuthority(root);
    }

    public X509Certificate certificate() {
        return root.certificate();
    }

    Issued root() {
        return root;
    }

    /** A serving certificate for the given DNS names, signed by this CA. */
    public Issued issue(List<String> dnsNames, Duration validity) throws Exception {
        return issue(dnsNames, validity, Clock.systemUTC());
    }

    /**
     * A serving certificate for the given DNS names, signed by this CA, valid from five minutes before
     * {@code clock}'s now for {@code validity}, but never past this CA's own expiry.
     */
    public Issued issue(List<String> dnsNames, Duration validity, Clock clock) throws Exception {
        KeyPair kp = keyPair();
        Instant now = clock.instant();
        Instant notAfter = now.plus(validity);
        Instant caNotAfter = root.certificate().getNotAfter().toInstant();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                root.certificate(),
                serial(),
                Date.from(now.minusSeconds(300)),
                Date.from(notAfter.isAfter(caNotAfter) ? caNotAfter : notAfter),
                new X500Name("CN=" + dnsNames.get(0)),
                kp.getPublic());
        GeneralName[] names = dnsNames.stream()
                .map(n -> new GeneralName(GeneralName.dNSName, n))
                .toArray(GeneralName[]::new);
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
        return new Issued(kp, sign(b, root.keys()));
    }

    /** A key store holding the serving key with its chain, for an {@code SSLContext}. */
    public KeyStore keyStore(Issued serving, char[] password) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("webhook", serving.keys().getPrivate(), password, new Certificate[] {
            serving.certificate(), root.certificate()
        });
        return ks;
    }

    /** A trust store holding only this CA (what clients, and tests, trust). */
    public KeyStore trustStore() throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("mithril-ca", root.certificate());
        return ks;
    }

    private static KeyPair keyPair() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256, new SecureRandom());
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(64, new SecureRandom()).abs();
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws Exception {
        return new JcaX509CertificateConverter()
                .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
    }
}
