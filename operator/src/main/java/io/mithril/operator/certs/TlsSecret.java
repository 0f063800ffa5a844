package io.mithril.operator.certs;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The webhook TLS Secret's contents and the decision whether they still serve: a pure function of the
 * Secret's data, the settings and the time, so it is testable without an API server.
 *
 * <p>Keys (PEM, base64 in {@code data} as usual): {@code tls.crt} the serving certificate, {@code tls.key}
 * its key, {@code ca.crt} the CA, {@code ca.key} the CA's key (so the CA survives restarts), and
 * {@code ca-previous.crt} the CA before the last rollover, trusted until it expires.
 */
final class TlsSecret {

    static final String TLS_CRT = "tls.crt";
    static final String TLS_KEY = "tls.key";
    static final String CA_CRT = "ca.crt";
    static final String CA_KEY = "ca.key";
    static final String PREVIOUS_CA_CRT = "ca-previous.crt";
    static final String CA_NAME = "mithril-webhook-ca";

    /**
     * What to serve, and the Secret data to write first ({@code null}: the Secret is fine as it is);
     * {@code reasons} says why it is rewritten, {@code problems} what was unreadable in it.
     */
    record Outcome(TlsMaterial material, Map<String, String> write, List<String> reasons, List<String> problems) {}

    private TlsSecret() {}

    /** Decides from the Secret's {@code data} ({@code null} when there is no Secret). */
    static Outcome evaluate(Map<String, String> data, CertificateManager.Config cfg, Clock clock) throws Exception {
        Instant now = clock.instant();
        List<String> reasons = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        CertificateAuthority ca = null;
        X509Certificate previous = null;
        if (data == null) {
            reasons.add("no Secret yet");
        } else {
            X509Certificate oldRoot = null;
            try {
                oldRoot = Pem.parseCertificates(text(data, CA_CRT)).get(0);
                PrivateKey caKey = Pem.parsePrivateKey(text(data, CA_KEY));
                if (!Pem.matches(caKey, oldRoot)) {
                    throw new GeneralSecurityException(CA_KEY + " is not the key of " + CA_CRT);
                }
                ca = CertificateAuthority.of(
                        new CertificateAuthority.Issued(new KeyPair(oldRoot.getPublicKey(), caKey), oldRoot));
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                problems.add("CA: " + e.getMessage());
                reasons.add("no usable CA");
            }
            if (ca != null && !outlives(oldRoot, now.plus(cfg.servingValidity()))) {
                reasons.add(
                        "CA expires " + oldRoot.getNotAfter().toInstant() + ", before a new serving certificate would");
                ca = null;
            }
            if (ca == null) {
                previous = oldRoot != null && outlives(oldRoot, now) ? oldRoot : null;
            } else {
                previous = previousCa(data, now);
            }
        }
        boolean newCa = ca == null;
        if (newCa) {
            ca = CertificateAuthority.create(CA_NAME, cfg.caValidity(), clock);
        }
        CertificateAuthority.Issued serving = newCa ? null : servingIfGood(data, ca, cfg, now, reasons, problems);
        if (serving == null) {
            serving = ca.issue(cfg.dnsNames(), cfg.servingValidity(), clock);
        }
        List<X509Certificate> trusted =
                previous == null ? List.of(ca.certificate()) : List.of(ca.certificate(), previous);
        TlsMaterial material = new TlsMaterial(
                serving.keys().getPrivate(),
                List.of(serving.certificate(), ca.certificate()),
                Pem.certificates(trusted));
        if (reasons.isEmpty()) {
            return new Outcome(material, null, reasons, problems);
        }
        Map<String, String> write = new LinkedHashMap<>();
        write.put(TLS_CRT, encode(Pem.certificates(List.of(serving.certificate()))));
        write.put(TLS_KEY, encode(Pem.privateKey(serving.keys().getPrivate())));
        write.put(CA_CRT, encode(Pem.certificates(List.of(ca.certificate()))));
        write.put(CA_KEY, encode(Pem.privateKey(ca.root().keys().getPrivate())));
        if (previous != null) {
            write.put(PREVIOUS_CA_CRT, encode(Pem.certificates(List.of(previous))));
        }
        return new Outcome(material, write, reasons, problems);
    }

    /** The stored serving certificate if it is readable, ours, for these names and not about to expire. */
    private static CertificateAuthority.Issued servingIfGood(
            Map<String, String> data,
            CertificateAuthority ca,
            CertificateManager.Config cfg,
            Instant now,
            List<String> reasons,
            List<String> problems) {
        X509Certificate cert;
        PrivateKey key;
        try {
            cert = Pem.parseCertificates(text(data, TLS_CRT)).get(0);
            key = Pem.parsePrivateKey(text(data, TLS_KEY));
            if (!Pem.matches(key, cert)) {
                throw new GeneralSecurityException(TLS_KEY + " is not the key of " + TLS_CRT);
            }
            cert.verify(ca.certificate().getPublicKey());
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            problems.add("serving certificate: " + e.getMessage());
            reasons.add("no usable serving certificate");
            return null;
        }
        if (!outlives(cert, now.plus(cfg.renewBefore()))
                || cert.getNotBefore().toInstant().isAfter(now)) {
            reasons.add("serving certificate valid until " + cert.getNotAfter().toInstant() + ", renewing "
                    + cfg.renewBefore().toDays() + " days ahead");
            return null;
        }
        Set<String> names = dnsNames(cert);
        if (!names.equals(new HashSet<>(cfg.dnsNames()))) {
            reasons.add("serving certificate names " + names + ", the Service needs " + cfg.dnsNames());
            return null;
        }
        return new CertificateAuthority.Issued(new KeyPair(cert.getPublicKey(), key), cert);
    }

    private static X509Certificate previousCa(Map<String, String> data, Instant now) {
        if (!data.containsKey(PREVIOUS_CA_CRT)) {
            return null;
        }
        try {
            X509Certificate prev =
                    Pem.parseCertificates(text(data, PREVIOUS_CA_CRT)).get(0);
            return outlives(prev, now) ? prev : null;
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return null; // only widens trust; unreadable means nothing to keep
        }
    }

    private static boolean outlives(X509Certificate c, Instant t) {
        return c.getNotAfter().toInstant().isAfter(t);
    }

    private static Set<String> dnsNames(X509Certificate cert) {
        Set<String> out = new HashSet<>();
        try {
            if (cert.getSubjectAlternativeNames() != null) {
                for (List<?> san : cert.getSubjectAlternativeNames()) {
                    if (Integer.valueOf(2).equals(san.get(0))) {
                        out.add((String) san.get(1));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no names: the caller sees a mismatch and re-issues
        }
        return out;
    }

    private static String text(Map<String, String> data, String key) {
        String v = data.get(key);
        if (v == null) {
            throw new IllegalArgumentException(key + " missing");
        }
        try {
            return new String(Base64.getDecoder().decode(v.strip()), StandardCharsets.US_ASCII);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + " is not base64");
        }
    }

    private static String encode(String pem) {
        return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
    }
}
