package io.mithril.operator.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.mithril.operator.certs.CertificateAuthority;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's /metrics over HTTP, checked by Prometheus's own {@code promtool check metrics}. */
class OperatorMetricsIT {

    @TempDir
    Path tmp;

    String promtoolComplaints(String exposition) throws Exception {
        Path file = tmp.resolve("metrics.txt");
        Files.writeString(file, exposition);
        Process p = new ProcessBuilder("promtool", "check", "metrics")
                .redirectInput(file.toFile())
                .redirectErrorStream(true)
                .start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String said = new String(p.getInputStream().readAllBytes()).trim();
        assertThat(p.exitValue())
                .as("promtool (Debian package prometheus): %s", said)
                .isZero();
        return said;
    }

    @Test
    void metrics_afterAdmissionsReconcilesAndACertificate_areValidPrometheusText_withTheirValues() throws Exception {
        OperatorMetrics m = new OperatorMetrics();
        m.admission(OperatorMetrics.Admission.INJECTED, 2_000_000);
        m.admission(OperatorMetrics.Admission.INJECTED, 300_000);
        m.admission(OperatorMetrics.Admission.DENIED, 1_000_000);
        m.admission(OperatorMetrics.Admission.SKIPPED, 7_000_000_000L);
        m.reconciled(true);
        m.reconciled(false);
        CertificateAuthority ca = CertificateAuthority.create("mithril-webhook-ca", Duration.ofDays(365));
        CertificateAuthority.Issued serving = ca.issue(List.of("localhost"), Duration.ofDays(30));
        m.certificates(serving.certificate(), ca.certificate());
        HttpServer http = m.server(new InetSocketAddress("127.0.0.1", 0));
        http.start();
        try {
            HttpResponse<String> r = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                                            + http.getAddress().getPort() + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type"))
                    .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain; version=0.0.4"));
            String body = r.body();
            assertThat(promtoolComplaints(body)).isEmpty();
            assertThat(body)
                    .contains("mithril_operator_admissions_total{outcome=\"injected\"} 2")
                    .contains("mithril_operator_admissions_total{outcome=\"denied\"} 1")
                    .contains("mithril_operator_admission_duration_seconds_bucket{le=\"0.0005\"} 1")
                    .contains("mithril_operator_admission_duration_seconds_bucket{le=\"2.5\"} 3")
                    .contains("mithril_operator_admission_duration_seconds_bucket{le=\"+Inf\"} 4")
                    .contains("mithril_operator_admission_duration_seconds_count 4")
                    .contains("mithril_operator_reconciles_total{result=\"success\"} 1")
                    .contains("mithril_operator_reconciles_total{result=\"error\"} 1")
                    .contains("mithril_operator_certificate_expiry_timestamp_seconds "
                            + serving.certificate().getNotAfter().getTime() / 1000)
                    .contains("mithril_operator_ca_expiry_timestamp_seconds "
                            + ca.certificate().getNotAfter().getTime() / 1000);
        } finally {
            http.stop(0);
        }
    }
}
