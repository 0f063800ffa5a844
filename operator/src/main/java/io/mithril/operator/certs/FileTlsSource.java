package io.mithril.operator.certs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serving material from a mounted directory with {@code tls.crt} and {@code tls.key} (and {@code ca.crt}
 * if present), as a Secret kept by cert-manager is mounted. This source writes nothing to the cluster:
 * cert-manager renews the Secret, the kubelet updates the files, and cert-manager's CA injector keeps
 * the webhook configuration's {@code caBundle}.
 *
 * <p>Changes are found by polling each file's modification time, size and file key (the kubelet swaps a
 * {@code ..data} symlink, so all three change at once). A half-updated pair, a key that does not match its
 * certificate, is not delivered; the next poll tries again.
 */
public final class FileTlsSource implements TlsSource {

    private static final Logger log = LoggerFactory.getLogger(FileTlsSource.class);
    private static final List<String> FILES = List.of(TlsSecret.TLS_CRT, TlsSecret.TLS_KEY, TlsSecret.CA_CRT);

    private final Path dir;
    private volatile List<Object> loadedStamp;
    private volatile TlsMaterial current;

    /** @param dir the mount point holding {@code tls.crt} and {@code tls.key} */
    public FileTlsSource(Path dir) {
        this.dir = dir;
    }

    @Override
    public TlsMaterial load() throws IOException, GeneralSecurityException {
        List<Object> stamp = stamp();
        String crt = Files.readString(dir.resolve(TlsSecret.TLS_CRT), StandardCharsets.US_ASCII);
        String keyPem = Files.readString(dir.resolve(TlsSecret.TLS_KEY), StandardCharsets.US_ASCII);
        Path caFile = dir.resolve(TlsSecret.CA_CRT);
        String ca = Files.exists(caFile) ? Files.readString(caFile, StandardCharsets.US_ASCII) : "";
        List<X509Certificate> chain = Pem.parseCertificates(crt);
        PrivateKey key = Pem.parsePrivateKey(keyPem);
        if (!Pem.matches(key, chain.get(0))) {
            throw new GeneralSecurityException(
                    dir.resolve(TlsSecret.TLS_KEY) + " is not the key of " + dir.resolve(TlsSecret.TLS_CRT));
        }
        TlsMaterial m = new TlsMaterial(key, chain, ca);
        current = m;
        loadedStamp = stamp;
        return m;
    }

    /**
     * Polls the files every {@code period} and loads them again when they changed; {@code onChange} gets the
     * material when its certificate or bundle differ from the last loaded.
     */
    @Override
    public void watch(ScheduledExecutorService scheduler, Duration period, Consumer<TlsMaterial> onChange) {
        try {
            scheduler.scheduleWithFixedDelay(
                    () -> poll(onChange), period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("certificate file polling not started: scheduler shut down");
        }
    }

    private void poll(Consumer<TlsMaterial> onChange) {
        TlsMaterial before = current;
        try {
            if (stamp().equals(loadedStamp)) {
                return;
            }
            TlsMaterial m = load();
            if (!m.sameAs(before)) {
                log.info(
                        "serving certificate reloaded from {}: serial {} until {}",
                        dir,
                        m.certificate().getSerialNumber().toString(16),
                        m.certificate().getNotAfter().toInstant());
                onChange.accept(m);
            }
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            log.warn(
                    "certificate files in {} not usable yet ({}); keeping the current certificate",
                    dir,
                    e.getMessage());
        }
    }

    private List<Object> stamp() throws IOException {
        List<Object> s = new ArrayList<>();
        for (String f : FILES) {
            try {
                BasicFileAttributes a = Files.readAttributes(dir.resolve(f), BasicFileAttributes.class);
                s.add(a.lastModifiedTime());
                s.add(a.size());
                s.add(String.valueOf(a.fileKey()));
            } catch (NoSuchFileException e) {
                s.add(f + " absent");
            }
        }
        return s;
    }
}
