package io.mithril.chart;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Just enough of an API server for the chart's {@code lookup} of its MutatingWebhookConfiguration:
 * discovery of admissionregistration.k8s.io/v1 and a GET by name, answered from {@link #webhookConfigs}
 * (404 when absent). helm-java renders with {@code lookup} wired to a cluster (unlike {@code helm template}),
 * so every render needs one; this one also lets a test show what the chart does with a live object.
 * Surefire points {@code KUBECONFIG} at {@link #KUBECONFIG}; the file is written when the server starts.
 */
final class FakeApiServer {

    static final Path KUBECONFIG = Path.of(System.getProperty("mithril.chart.kubeconfig", "target/test-kubeconfig"));
    private static final String GROUP_VERSION = "/apis/admissionregistration.k8s.io/v1";
    private static final String DISCOVERY = """
            {"kind":"APIResourceList","apiVersion":"v1","groupVersion":"admissionregistration.k8s.io/v1","resources":[
             {"name":"mutatingwebhookconfigurations","singularName":"mutatingwebhookconfiguration","namespaced":false,
              "kind":"MutatingWebhookConfiguration","verbs":["create","delete","get","list","patch","update","watch"]}]}""";

    /** Live MutatingWebhookConfigurations by name, as JSON. */
    static final Map<String, String> webhookConfigs = new ConcurrentHashMap<>();

    private static HttpServer server;

    private FakeApiServer() {}

    static synchronized void ensureStarted() {
        if (server != null) {
            return;
        }
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", FakeApiServer::handle);
            server.start();
            Files.createDirectories(KUBECONFIG.toAbsolutePath().getParent());
            Files.writeString(KUBECONFIG, """
                    apiVersion: v1
                    kind: Config
                    clusters:
                    - name: fake
                      cluster:
                        server: http://127.0.0.1:%d
                    contexts:
                    - name: fake
                      context:
                        cluster: fake
                        user: fake
                    current-context: fake
                    users:
                    - name: fake
                      user: {}
                    """.formatted(server.getAddress().getPort()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        String prefix = GROUP_VERSION + "/mutatingwebhookconfigurations/";
        if (path.equals(GROUP_VERSION)) {
            send(ex, 200, DISCOVERY);
        } else if (path.startsWith(prefix) && webhookConfigs.containsKey(path.substring(prefix.length()))) {
            send(ex, 200, webhookConfigs.get(path.substring(prefix.length())));
        } else {
            send(ex, 404, """
                    {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}""");
        }
    }

    private static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
        ex.close();
    }
}
