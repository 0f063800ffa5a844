package io.mithril.operator.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FileTlsSource} on a real directory laid out as the kubelet mounts a Secret, or rewritten in place. */
class FileTlsSourceIT {

    @TempDir
    Path dir;

    CertificateAuthority ca;
    ScheduledExecutorService ses;
    final List<TlsMaterial> changes = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        ca = CertificateAuthority.create("file-test-ca", Duration.ofDays(30));
        ses = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void tearDown() {
        ses.shutdownNow();
    }

    CertificateAuthority.Issued issue() throws Exception {
        return ca.issue(List.of("mithril-webhook.mithril-system.svc"), Duration.ofDays(7));
    }

    static String crt(CertificateAuthority.Issued i) throws Exception {
        return Pem.certificates(List.of(i.certificate()));
    }

    static String key(CertificateAuthority.Issued i) {
        return Pem.privateKey(i.keys().getPrivate());
    }

    /** As the kubelet does: files in a fresh timestamped folder, then one rename of the ..data link. */
    void publish(String version, CertificateAuthority.Issued i) throws Exception {
        Path ts = Files.createDirectory(dir.resolve("..2026_" + version));
        Files.writeString(ts.resolve("tls.crt"), crt(i));
        Files.writeString(ts.resolve("tls.key"), key(i));
        Files.writeString(ts.resolve("ca.crt"), Pem.certificates(List.of(ca.certificate())));
        Path tmp = dir.resolve("..data_tmp");
        Files.createSymbolicLink(tmp, ts.getFileName());
        Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        for (String f : List.of("tls.crt", "tls.key", "ca.crt")) {
            if (!Files.exists(dir.resolve(f), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(dir.resolve(f), Path.of("..data", f));
            }
        }
    }

    @Test
    void secretVolumeUpdated_reloadIsObservedOnce_withTheNewCertificate() throws Exception {
        CertificateAuthority.Issued first = issue();
        publish("1", first);
        FileTlsSource src = new FileTlsSource(dir);
        TlsMaterial loaded = src.load();
        assertThat(loaded.certificate()).isEqualTo(first.certificate());
        assertThat(loaded.caBundlePem()).contains("BEGIN CERTIFICATE");

        src.watch(ses, Duration.ofMillis(50), changes::add);
        Thread.sleep(300);
        assertThat(changes).as("nothing changed yet").isEmpty();

        CertificateAuthority.Issued second = issue();
        publish("2", second);
        await().atMost(Duration.ofSeconds(10)).until(() -> !changes.isEmpty());
        Thread.sleep(300);
        assertThat(changes).hasSize(1);
        assertThat(changes.get(0).certificate()).isEqualTo(second.certificate());
        assertThat(changes.get(0).sslContext().createSSLEngine()).isNotNull();
    }

    @Test
    void filesRewrittenInPlaceOneAfterTheOther_halfWrittenPairIsSkipped_finalPairDelivered() throws Exception {
        CertificateAuthority.Issued first = issue();
        Files.writeString(dir.resolve("tls.crt"), crt(first));
        Files.writeString(dir.resolve("tls.key"), key(first));
        FileTlsSource src = new FileTlsSource(dir);
        assertThat(src.load().caBundlePem()).isEmpty();
        src.watch(ses, Duration.ofMillis(50), changes::add);

        CertificateAuthority.Issued second = issue();
        Files.writeString(dir.resolve("tls.crt"), crt(second), StandardCharsets.US_ASCII);
        Thread.sleep(300); // several polls see the new certificate with the old key
        assertThat(changes).isEmpty();
        Files.writeString(dir.resolve("tls.key"), key(second), StandardCharsets.US_ASCII);

        await().atMost(Duration.ofSeconds(10)).until(() -> !changes.isEmpty());
        assertThat(changes).hasSize(1);
        assertThat(changes.get(0).certificate()).isEqualTo(second.certificate());
    }

    @Test
    void load_keyOfAnotherCertificate_failsNamingBothFiles() throws Exception {
        Files.writeString(dir.resolve("tls.crt"), crt(issue()));
        Files.writeString(dir.resolve("tls.key"), key(issue()));

        assertThatThrownBy(() -> new FileTlsSource(dir).load())
                .isInstanceOf(GeneralSecurityException.class)
                .hasMessageContaining("tls.key is not the key of")
                .hasMessageContaining("tls.crt");
    }
}
