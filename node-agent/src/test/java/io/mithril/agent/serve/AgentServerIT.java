package io.mithril.agent.serve;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.framework.Framework;
import io.mithril.agent.ingest.IngestLimits;
import io.mithril.agent.ingest.Ingester;
import io.mithril.agent.remote.RemoteStats;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreFixture;
import io.mithril.agent.volume.PublishMode;
import io.mithril.agent.volume.View;
import io.mithril.agent.volume.Views;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentServerIT {

    @TempDir
    Path tmp;

    final HttpClient http = HttpClient.newHttpClient();

    HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void endpoints_answer_andMetricsPassPromtool() throws Exception {
        try (NodeStore store = NodeStore.open(
                Files.createDirectory(tmp.resolve("root")),
                StoreConfig.defaults().withBudget(1 << 20))) {
            AgentMetrics metrics = new AgentMetrics();
            Views views = new Views(store);
            View v = views.publish(
                    StoreFixture.H100,
                    tmp.resolve("v"),
                    Set.of(Framework.INDUCTOR, Framework.TRITON),
                    Views.Owner.CURRENT,
                    PublishMode.LINK);
            metrics.published(v);
            Files.createDirectories(v.dir().resolve("inductor/ab"));
            Files.writeString(v.dir().resolve("inductor/ab/cx.py"), "x = 1\n");
            Files.createSymbolicLink(v.dir().resolve("inductor/ab/cy.py"), Path.of("/etc/hostname"));
            int ingested;
            try (Ingester ing = new Ingester(store, IngestLimits.defaults())) {
                var report = ing.ingest(v, "test", true);
                metrics.ingested(report);
                ingested = report.entries();
            }
            int read = views.unpublish(v).size();
            metrics.entriesRead(read);
            metrics.groupActivity(StoreFixture.H100, read, ingested);
            RemoteStats remote = new RemoteStats(() -> RemoteStats.Circuit.OPEN, () -> 4L);
            remote.request(RemoteStats.Operation.GET, RemoteStats.Result.OK);
            remote.request(RemoteStats.Operation.PUT, RemoteStats.Result.REFUSED);
            metrics.remote(() -> 2, () -> 7, remote);
            metrics.remoteFetched(StoreFixture.H100, 3, 3000, 1, 250_000_000L);
            metrics.remoteUploaded(StoreFixture.H100, 1, 6);
            try (AgentServer server = new AgentServer(store, metrics, new InetSocketAddress("127.0.0.1", 0))) {
                server.start();
                int port = server.port();
                assertThat(get(port, "/healthz").statusCode()).isEqualTo(200);
                assertThat(get(port, "/readyz").statusCode()).isEqualTo(200);
                HttpResponse<String> m = get(port, "/metrics");
                assertThat(m.statusCode()).isEqualTo(200);
                assertThat(m.headers().firstValue("Content-Type"))
                        .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain; version=0.0.4"));
                assertThat(m.body())
                        .contains("mithril_store_entries 1")
                        .contains("mithril_entries_ingested_total 1")
                        .contains("mithril_ingest_refused_total{reason=\"symlink\"} 1")
                        .contains("mithril_publish_duration_seconds_count 1")
                        .contains("mithril_evictions_total{cause=\"node_budget\"} 0")
                        .contains(
                                "mithril_group_bytes{namespace=\"team-a\",cache=\"gpt\",device=\"cuda-9.0\",product=\"nvidia-h100-80gb-hbm3\"} 6");
                assertThat(m.body())
                        .contains("mithril_remote_fetched_bytes_total 3000")
                        .contains("mithril_remote_rejected_blobs_total 1")
                        .contains("mithril_remote_rejected_manifests_total 2")
                        .contains("mithril_remote_upload_queue_entries 7")
                        .contains("mithril_remote_requests_total{operation=\"get\",result=\"ok\"} 1")
                        .contains("mithril_remote_requests_total{operation=\"put\",result=\"refused\"} 1")
                        .contains("mithril_remote_circuit_state{state=\"open\"} 1")
                        .contains("mithril_remote_circuit_state{state=\"closed\"} 0")
                        .contains("mithril_remote_circuit_opened_total 4")
                        .contains("mithril_remote_fill_duration_seconds_count 1")
                        .contains(
                                "mithril_group_remote_fetched_total{namespace=\"team-a\",cache=\"gpt\",device=\"cuda-9.0\",product=\"nvidia-h100-80gb-hbm3\"} 3");
                assertThat(promtool(m.body())).isEqualTo("");
                HttpResponse<String> s = get(port, "/v1/stats");
                assertThat(s.body())
                        .contains(
                                "\"remote\":{\"fetched\":3,\"fetchedBytes\":3000,\"uploaded\":1,\"uploadedBytes\":6}");
                assertThat(s.body())
                        .contains("\"entries\":1")
                        .contains("\"device\":\"cuda-9.0\"")
                        .contains("\"hardLimit\":1048576")
                        .contains("\"hits\":0,\"misses\":1,\"runs\":{},\"lastUse\":\"20");
                assertThat(m.body())
                        .contains(
                                "mithril_group_misses_total{namespace=\"team-a\",cache=\"gpt\",device=\"cuda-9.0\",product=\"nvidia-h100-80gb-hbm3\"} 1");
                assertThat(get(port, "/nope").statusCode()).isEqualTo(404);
                HttpResponse<String> post = http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                                .POST(HttpRequest.BodyPublishers.ofString("x"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(post.statusCode()).isEqualTo(405);
            }
        }
    }

    /** Runs {@code promtool check metrics}; returns its complaints (empty when clean). */
    static String promtool(String body) throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "metrics")
                .redirectErrorStream(true)
                .start();
        p.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue())
                .as("promtool (Debian package prometheus) must be installed; said: %s", out)
                .isZero();
        return out;
    }

    @Test
    void serveCommand_startsAndAnswersHealth() throws Exception {
        Path launcher = Path.of(System.getProperty("user.dir")).getParent().resolve("bin/mithril-agent");
        Path root = Files.createDirectory(tmp.resolve("r"));
        Process p = new ProcessBuilder(
                        launcher.toString(), "--root", root.toString(), "serve", "--listen", "127.0.0.1:0")
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            Matcher m = Pattern.compile("on http://127.0.0.1:(\\d+)").matcher(String.valueOf(line));
            assertThat(m.find()).as(line).isTrue();
            int port = Integer.parseInt(m.group(1));
            assertThat(get(port, "/healthz").body()).isEqualTo("ok\n");
            assertThat(get(port, "/metrics").body()).contains("mithril_store_bytes 0");
        } finally {
            p.destroy();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
    }
}
